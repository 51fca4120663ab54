"""Learning-rate schedules: the lr each epoch gets, logged, and continued exactly after a resume."""

from __future__ import annotations

import math

import pytest
import torch
from tbparse import SummaryReader

from lossbench.errors import UserError
from trainer import schedulers
from trainer.logger import RunLogger
from trainer.run import run
from trainer.rundir import checkpoint

# digits: 1,437 training images of 8×8, 23 batches of 64 per epoch; no files needed.
DIGITS = ["task=digits", "task.val_fraction=0.0", "loss=ce", "optim=sgd", "optim.lr=0.1"]
SCHEDULES = {
    "cosine": ["scheduler=cosine", "scheduler.T_max=4", "scheduler.eta_min=0.001"],
    "step": ["scheduler=step", "scheduler.step_size=1", "scheduler.gamma=0.5"],
    "onecycle": ["scheduler=onecycle", "scheduler.epochs=4"],
}


def lrs(record: dict) -> list[float]:
    return [h["train/lr"] for h in record["history"]]


def without_time(record: dict) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "time_s"} for h in record["history"]]


def test_cosine_gives_each_epoch_its_half_cosine_value(make_cfg, tmp_path):
    record = run(make_cfg(*DIGITS, *SCHEDULES["cosine"], "trainer.max_epochs=4"), tmp_path)
    expected = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert lrs(record) == pytest.approx(expected)
    scalars = SummaryReader(str(tmp_path)).scalars
    logged = scalars[scalars["tag"] == "train/lr"]["value"].tolist()
    assert logged == pytest.approx(expected)


def test_step_and_none(make_cfg, tmp_path):
    stepped = run(make_cfg(*DIGITS, *SCHEDULES["step"], "trainer.max_epochs=3"), tmp_path / "s")
    assert lrs(stepped) == pytest.approx([0.1, 0.05, 0.025])
    constant = run(make_cfg(*DIGITS, "trainer.max_epochs=2"), tmp_path / "n")
    assert lrs(constant) == [0.1, 0.1] and constant["hparams"]["scheduler.name"] == "none"


def test_onecycle_steps_once_per_batch(make_cfg, tmp_path):
    record = run(make_cfg(*DIGITS, "scheduler=onecycle", "trainer.max_epochs=2"), tmp_path)
    state = checkpoint.load(tmp_path, torch.device("cpu"))["scheduler"]
    assert state["last_epoch"] == 2 * 23 and state["total_steps"] == 2 * 23
    first, second = lrs(record)
    assert first == pytest.approx(0.1 / 25)  # starts at max_lr / div_factor
    assert second > first  # 23 of its 46 steps in, past pct_start = 0.3: near max_lr


def stop_after_epoch(monkeypatch, epoch: int) -> None:
    """What a kill leaves: checkpoint and metrics.json of `epoch`, then the process gone."""
    commit = RunLogger.commit

    def commit_then_stop(self: RunLogger) -> None:
        commit(self)
        if self.record["epochs_completed"] == epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(RunLogger, "commit", commit_then_stop)


@pytest.mark.numerics
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_a_resumed_run_continues_the_schedule_exactly(make_cfg, tmp_path, monkeypatch, schedule):
    """Stopped after epoch 2 of 4 and resumed: the same lrs, metrics and weights as 4 straight."""
    cfg = make_cfg(*DIGITS, *SCHEDULES[schedule], "model=toy_cnn", "trainer.max_epochs=4",
                   "trainer.limit_train_batches=8")
    straight = run(cfg, tmp_path / "straight")
    with monkeypatch.context() as patch:
        stop_after_epoch(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            run(cfg, tmp_path / "split")
    cfg.trainer.resume = True
    resumed = run(cfg, tmp_path / "split")
    assert resumed["status"] == "ok" and resumed["epochs_completed"] == 4
    assert len(set(lrs(straight))) > 1  # the schedule moved
    assert without_time(resumed) == without_time(straight)
    ends = [checkpoint.load(tmp_path / d, torch.device("cpu")) for d in ("straight", "split")]
    assert ends[0]["scheduler"] == ends[1]["scheduler"]
    # Model state includes batch norm's running statistics: restored, they match exactly.
    assert any(k.endswith("running_mean") for k in ends[0]["model"])
    for key, tensor in ends[0]["model"].items():
        assert torch.equal(tensor, ends[1]["model"][key]), key


def test_a_resume_with_another_schedule_length_is_refused(make_cfg, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        stop_after_epoch(patch, 1)
        with pytest.raises(KeyboardInterrupt):
            run(make_cfg(*DIGITS, "scheduler=cosine", "trainer.max_epochs=2"), tmp_path)
    with pytest.raises(UserError, match=r"holds a run with scheduler.T_max=2, not 3"):
        run(make_cfg(*DIGITS, "scheduler=cosine", "trainer.max_epochs=3", "trainer.resume=true"),
            tmp_path)


@pytest.mark.parametrize(("overrides", "message"), [
    (["scheduler=onecycle", "scheduler.epochs=1", "trainer.max_epochs=2"],
     r"scheduler.epochs=1 is not valid: an integer >= trainer.max_epochs \(2\)"),
    (["scheduler=cosine", "scheduler.T_max=0"], r"scheduler.T_max=0 is not valid"),
    (["scheduler=step", "scheduler.step_size=1.5"], r"scheduler.step_size=1.5 is not valid"),
    (["scheduler=onecycle", "scheduler.pct_start=2.0"],
     r"scheduler.pct_start=2.0 is not valid: a number in \(0, 1\)"),
    (["scheduler=cosine", "+scheduler.warmup=3"],
     r"scheduler.warmup=3 is not valid: no such key in scheduler=cosine"),
])
def test_bad_schedule_values_are_one_line_errors(make_cfg, tmp_path, overrides, message):
    with pytest.raises(UserError, match=message):
        run(make_cfg(*DIGITS, *overrides), tmp_path)
    assert not (tmp_path / "checkpoints").exists()


def test_unknown_schedule_name():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(UserError, match=r"scheduler='warm' is not a known scheduler; valid: "
                                        r"cosine, none, onecycle, step"):
        schedulers.build({"name": "warm"}, optimizer, steps_per_epoch=1)
