"""One run end to end through trainer.run: every pair, the record, TensorBoard, determinism."""

from __future__ import annotations

import json
import math

import pytest
from tbparse import SummaryReader

import tasks
from lossbench.errors import Misfit, UserError
from trainer import losses
from trainer.run import run

# Tasks that need your own files have their own tests (test_table.py, test_image_folder.py).
PAIRS = [(t, loss) for t in tasks.names() if t not in tasks.USER_DATA
         for loss in sorted(losses.LOSSES)]
VALID = [(t, loss) for t, loss in PAIRS if losses.accepts(loss, tasks.get(t).KIND)]
INVALID = [p for p in PAIRS if p not in VALID]


@pytest.mark.parametrize(("task", "loss"), VALID, ids=[f"{t}-{loss}" for t, loss in VALID])
def test_every_valid_pair_trains(make_cfg, tmp_path, task, loss):
    record = run(make_cfg(f"task={task}", f"loss={loss}"), tmp_path)
    assert record["status"] == "ok" and record["epochs_completed"] == 2
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["final"] == pytest.approx(record["final"])
    expected = {"regression": {"test/mse", "test/mae", "test/r2"},
                "binary": {"test/accuracy", "test/auc"},
                "multiclass": {"test/accuracy"}}[tasks.get(task).KIND]
    assert expected | {"train/loss_epoch"} <= set(record["final"])
    assert all(math.isfinite(v) for v in record["final"].values())


@pytest.mark.parametrize(("task", "loss"), INVALID, ids=[f"{t}-{loss}" for t, loss in INVALID])
def test_every_invalid_pair_is_refused_or_skipped(make_cfg, tmp_path, task, loss):
    cfg = make_cfg(f"task={task}", f"loss={loss}")
    with pytest.raises(Misfit) as err:
        run(cfg, tmp_path / "single")
    assert f"task={task}" in str(err.value) and f"loss={loss}" in str(err.value)
    kind = tasks.get(task).KIND
    assert ", ".join(losses.valid_for(kind)) in str(err.value)
    record = run(cfg, tmp_path / "sweep", multirun=True)
    assert record["status"] == "skipped" and record["reason"] == str(err.value)
    assert json.loads((tmp_path / "sweep" / "metrics.json").read_text())["status"] == "skipped"


def test_metrics_json_holds_the_contract(make_cfg, tmp_path):
    record = run(make_cfg("task=regression", "loss=smoothl1", "seed=3"), tmp_path)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("task", "loss", "model", "seed", "status", "reason", "epochs_completed", "final",
                "best", "history", "wall_s"):
        assert key in on_disk, key
    assert (on_disk["task"], on_disk["loss"], on_disk["model"], on_disk["seed"]) == (
        "regression", "smoothl1", "mlp", 3)
    assert on_disk["status"] == "ok" and on_disk["reason"] is None
    assert [h["epoch"] for h in on_disk["history"]] == [1, 2]
    assert all({"train/loss_epoch", "test/mse", "time_s"} <= set(h) for h in on_disk["history"])
    assert on_disk["best"]["test/mse"] == min(h["test/mse"] for h in on_disk["history"])
    assert on_disk["best"]["test/r2"] == max(h["test/r2"] for h in on_disk["history"])
    assert on_disk["wall_s"] > 0 and record["final"] == on_disk["final"]


def test_tensorboard_has_the_contract_tags_and_hparams(make_cfg, tmp_path):
    run(make_cfg("task=mnist", "loss=ce", "trainer.log_every_n_steps=1"), tmp_path)
    scalars = SummaryReader(str(tmp_path)).scalars
    tags = set(scalars["tag"])
    assert {"train/loss", "train/loss_epoch", "test/accuracy", "test/loss", "val/accuracy",
            "val/loss"} <= tags
    steps = scalars[scalars["tag"] == "train/loss"]["step"].tolist()
    # 200 samples, 20 held out for validation, at batch 64: 3 steps an epoch, 2 epochs.
    assert steps == list(range(1, 7))
    # Epoch scalars sit at the epoch's last step, beside an `epoch` tag mapping steps to epochs.
    for tag in ("test/accuracy", "val/accuracy", "val/loss"):
        assert scalars[scalars["tag"] == tag]["step"].tolist() == [3, 6]
    assert scalars[scalars["tag"] == "epoch"]["value"].tolist() == [1, 2]
    hparams = SummaryReader(str(tmp_path)).hparams
    assert dict(zip(hparams["tag"], hparams["value"], strict=True))["loss.name"] == "ce"


@pytest.mark.numerics
def test_same_seed_same_metrics_on_cpu(make_cfg, tmp_path):
    first = run(make_cfg("task=mnist", "loss=mse", "seed=7"), tmp_path / "a")
    second = run(make_cfg("task=mnist", "loss=mse", "seed=7"), tmp_path / "b")
    other = run(make_cfg("task=mnist", "loss=mse", "seed=8"), tmp_path / "c")
    strip = [{k: v for k, v in h.items() if k != "time_s"} for h in first["history"]]
    assert strip == [{k: v for k, v in h.items() if k != "time_s"} for h in second["history"]]
    assert first["final"] != other["final"]


def test_divergence_is_recorded_not_raised(make_cfg, tmp_path):
    record = run(make_cfg("loss=mse", "optim=sgd", "optim.lr=1e12"), tmp_path)
    assert record["status"] == "diverged"
    assert "epoch 1" in record["reason"] and "step" in record["reason"]
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "diverged"


@pytest.mark.parametrize(("override", "key"), [
    ("trainer.max_epochs=0", "trainer.max_epochs"),
    ("task.batch_size=0", "task.batch_size"),
    ("optim.lr=0", "optim.lr"),
    ("optim.lr=-1", "optim.lr"),
    ("trainer.device=tpu", "trainer.device"),
])
def test_bad_values_are_user_errors(make_cfg, tmp_path, override, key):
    with pytest.raises(UserError, match=key):
        run(make_cfg(override), tmp_path)
    record = run(make_cfg(override), tmp_path / "sweep", multirun=True)
    assert record["status"] == "failed" and key in record["reason"]


@pytest.mark.parametrize(("override", "message"), [
    ("optim.lr=true", "optim.lr=true is not valid: a finite number > 0"),  # not 1
    ("trainer.max_epochs=true", "trainer.max_epochs=true is not valid: an integer >= 1"),
])
def test_wrong_types_are_refused_while_composing(make_cfg, override, message):
    with pytest.raises(UserError, match=message):
        make_cfg(override)


def test_cnn_on_vectors_is_a_misfit(make_cfg, tmp_path):
    with pytest.raises(Misfit, match="model=cnn needs image input"):
        run(make_cfg("task=regression", "model=cnn"), tmp_path)


def test_cnn_trains_on_images(make_cfg, tmp_path):
    assert run(make_cfg("task=mnist", "loss=ce", "model=cnn"), tmp_path)["status"] == "ok"
