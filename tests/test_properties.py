"""Property: any mix of valid and invalid overrides trains or fails with the one-line error."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossbench.errors import UserError
from trainer.run import run

OVERRIDES = {
    "task": ["regression", "mnist", "mnist_binary", "fashion_mnist"],
    "loss": ["ce", "bce", "bce_logits", "l1", "mse", "smoothl1", "huber"],
    "model": ["linear", "mlp", "cnn"],
    "optim": ["sgd", "adam", "adamw"],
    "optim.lr": [0.01, 1e-4, 0, -0.5, "fast"],
    "trainer.max_epochs": [1, 0, -2, "ten"],
    "task.batch_size": [32, 1, 0],
    "trainer.device": ["cpu", "auto", "cuda", "tpu"],
    "seed": [0, 3, "x"],
}
TASK_ONLY = {  # keys that exist in one task's config only
    "regression": {"task.outlier_fraction": [0.1, 0.0, 0.99, 1.0, -0.1, 2]},
    "mnist_binary": {"task.positive": ["[4]", "[1,2]", "[10]", "[]"],
                     "task.negative": ["[9]", "[4]", "[-1]"]},
}
STATUSES = {"ok", "diverged", "skipped", "failed"}


@st.composite
def overrides(draw) -> list[str]:
    chosen = {k: draw(st.sampled_from(v)) for k, v in OVERRIDES.items() if draw(st.booleans())}
    task = chosen.get("task", "regression")
    for key, values in TASK_ONLY.get(task, {}).items():
        if draw(st.booleans()):
            chosen[key] = draw(st.sampled_from(values))
    chosen.setdefault("task", task)
    return [f"{k}={v}" for k, v in chosen.items()]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(picked=overrides(), multirun=st.booleans())
def test_every_run_completes_or_fails_clearly(make_cfg, tmp_path_factory, picked, multirun):
    run_dir: Path = tmp_path_factory.mktemp("run")
    cfg = make_cfg("trainer.max_epochs=1", "trainer.limit_train_batches=2", *picked)
    try:
        record = run(cfg, run_dir, multirun=multirun)
    except UserError as err:
        assert not multirun, "a sweep job records its error instead of raising"
        message = str(err)
        assert message and "\n" not in message and "Traceback" not in message
        assert not (run_dir / "metrics.json").exists()
        return
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk["status"] in STATUSES and on_disk["status"] == record["status"]
    if on_disk["status"] in ("skipped", "failed"):
        assert multirun and on_disk["reason"] and "\n" not in on_disk["reason"]
    if on_disk["status"] == "ok":
        assert on_disk["epochs_completed"] == 1
        assert all(v is None or math.isfinite(v) for v in on_disk["final"].values())
    if "trainer.device=cuda" in picked and not torch.cuda.is_available():
        assert on_disk["status"] in ("failed", "skipped")  # never a silent CPU fallback
