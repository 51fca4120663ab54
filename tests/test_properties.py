"""Property: any mix of valid and invalid overrides trains or fails with the one-line error."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_schema import bad_values, override_text

from lossbench.errors import UserError
from lossbench.schema import fields_of, valid_examples
from trainer import schemas
from trainer.run import run
from trainer.schemas import TrainConfig

# Drawn from the schemas (trainer.schemas): every declared key, with small allowed values
# and the invalid ones the schema test uses, so a new key joins the property at once.
SLOW = {"trainer.compile": [True]}  # allowed, but compiling takes minutes on a CPU
GROUPS = ("task", "loss", "model", "optim", "logger")
STATUSES = {"ok", "diverged", "skipped", "failed"}


def values_for(key: str, field) -> list:
    allowed = [v for v in valid_examples(field) if v not in SLOW.get(key, [])]
    return allowed + [value for _, value in bad_values(field, key.rpartition(".")[2])]


@st.composite
def overrides(draw) -> list[str]:
    options = schemas.groups()
    chosen = {g: draw(st.sampled_from(sorted(options[g]))) for g in GROUPS}
    keys = [(k, f) for k, f in fields_of(TrainConfig).items() if f.type is not object
            and k != "objective"]
    for group, name in [*chosen.items(), ("trainer", "default")]:
        keys += [(f"{schemas.prefix(group, name)}.{k}", f)
                 for k, f in fields_of(options[group][name]).items()
                 if k not in ("name", "data_dir")]
    picked = [f"{g}={n}" for g, n in chosen.items()]
    for key, field in keys:
        if (values := values_for(key, field)) and draw(st.integers(0, 9)) == 0:
            picked.append(f"{key}={override_text(draw(st.sampled_from(values)))}")
    return picked


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(picked=overrides(), multirun=st.booleans())
def test_every_run_completes_or_fails_clearly(make_cfg, tmp_path_factory, picked, multirun):
    run_dir: Path = tmp_path_factory.mktemp("run")
    try:
        # A type Hydra refuses stops a sweep too, before its job starts: one line either way.
        cfg = make_cfg("trainer.max_epochs=1", "trainer.limit_train_batches=2", *picked)
    except UserError as err:
        event("refused while composing")
        assert "\n" not in str(err) and "is not valid" in str(err)
        return
    try:
        record = run(cfg, run_dir, multirun=multirun)
    except UserError as err:
        event("refused by the run")
        assert not multirun, "a sweep job records its error instead of raising"
        message = str(err)
        assert message and "\n" not in message and "Traceback" not in message
        assert not (run_dir / "metrics.json").exists()
        return
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    event(f"recorded {on_disk['status']}")
    assert on_disk["status"] in STATUSES and on_disk["status"] == record["status"]
    if on_disk["status"] in ("skipped", "failed"):
        assert multirun and on_disk["reason"] and "\n" not in on_disk["reason"]
    if on_disk["status"] == "ok":
        epochs = [int(o.split("=")[1]) for o in picked if o.startswith("trainer.max_epochs=")]
        assert on_disk["epochs_completed"] == (epochs or [1])[-1]
        assert all(v is None or math.isfinite(v) for v in on_disk["final"].values())
    if "trainer.device=cuda" in picked and not torch.cuda.is_available():
        assert on_disk["status"] in ("failed", "skipped")  # never a silent CPU fallback
