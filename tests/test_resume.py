"""Nothing lost: checkpoints, kill-and-resume, interruption, finished runs left alone."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY_REGRESSION, train_cli, train_killed, wait_for_epoch

from lossbench.errors import UserError
from trainer.run import run
from trainer.rundir import checkpoint, results

# The kill tests stop the run at an exact step (conftest.train_killed): the tiny data does.
SMALL = ["task=regression", "loss=smoothl1", *TINY_REGRESSION, "trainer.max_epochs=4",
         "trainer.device=cpu", "seed=5", "trainer.progress_bar=false"]
# SIGTERM is sent from outside once epoch 1 is on disk: epochs long enough to land in one.
SLOW = ["task=regression", "loss=smoothl1", "task.n_train=20000", "task.n_test=500",
        "trainer.max_epochs=4", "trainer.device=cpu", "seed=5", "trainer.progress_bar=false"]


def start(run_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *SLOW,
                             f"hydra.run.dir={run_dir}", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def tensorboard_steps(run_dir: Path) -> dict[str, list[int]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir))
    events.Reload()
    return {tag: [e.step for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def history(record: dict) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "time_s"} for h in record["history"]]


@pytest.mark.numerics
def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path):
    full = train_cli(*SMALL, f"hydra.run.dir={tmp_path / 'full'}")
    assert full.returncode == 0, full.stderr
    train_killed(*SMALL, f"hydra.run.dir={tmp_path / 'killed'}", at="2:2")
    left = results.read(tmp_path / "killed")
    assert left["status"] == "running" and left["epochs_completed"] == 1
    resumed = train_cli(*SMALL, f"hydra.run.dir={tmp_path / 'killed'}", "trainer.resume=true")
    assert resumed.returncode == 0, resumed.stderr
    a, b = results.read(tmp_path / "full"), results.read(tmp_path / "killed")
    assert b["status"] == "ok" and b["epochs_completed"] == 4
    assert history(a) == history(b) and a["final"] == b["final"]
    # The validation-selected epoch may lie before the kill: it is chosen from all four.
    assert a["selected"] is not None and a["selected"] == b["selected"]
    # TensorBoard's own reader applies the resumed writer's purge_step.
    steps = [tensorboard_steps(tmp_path / name) for name in ("full", "killed")]
    assert all(len(s) == len(set(s)) for curve in steps for s in curve.values())
    assert steps[0] == steps[1]  # no step missing after the resume either


def test_the_kill_point_reads_epoch_and_step(monkeypatch):
    from trainer.engine import fault

    monkeypatch.delenv(fault.VAR, raising=False)
    assert fault.kill_point() is None
    for text, point in (("2:3", (2, 3)), ("4", (4, 1)), (" 1:1 ", (1, 1))):
        monkeypatch.setenv(fault.VAR, text)
        assert fault.kill_point() == point
    monkeypatch.setenv(fault.VAR, "two")
    with pytest.raises(ValueError, match="expected <epoch>:<step>"):
        fault.kill_point()
    flushed = []
    fault.kill_if((2, 3), 2, 2, lambda: flushed.append(1))  # another step: no kill
    fault.kill_if(None, 2, 3, lambda: flushed.append(1))
    assert flushed == []


def test_sigterm_records_interrupted_and_exits_cleanly(tmp_path):
    proc = start(tmp_path / "run")
    wait_for_epoch(tmp_path / "run", 1, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted:")
    record = results.read(tmp_path / "run")
    assert record["status"] == "interrupted" and "SIGTERM during epoch" in record["reason"]
    assert record["epochs_completed"] >= 1 and (tmp_path / "run" / checkpoint.CHECKPOINT).is_file()


def test_checkpoint_holds_state_and_loads_safely(make_cfg, tmp_path):
    run(make_cfg("task=mnist", "loss=ce", "optim=sgd"), tmp_path)
    state = checkpoint.load(tmp_path, torch.device("cpu"))  # weights_only=True inside
    assert state["epoch"] == 2 and state["record"]["epochs_completed"] == 2
    # The wall time so far travels with the checkpoint, so a resumed run adds to it.
    assert state["record"]["wall_s"] >= sum(h["time_s"] for h in state["record"]["history"])
    assert {"model", "optimizer", "rng", "scaler", "record"} <= set(state)
    assert {"torch", "numpy", "python", "order", "cuda"} <= set(state["rng"])
    assert state["optimizer"]["state"], "momentum buffers are saved"
    assert not list((tmp_path / "checkpoints").glob(".last.pt.*")), "no temp file left behind"


def test_resuming_a_finished_run_does_nothing_and_says_so(make_cfg, tmp_path, caplog):
    first = run(make_cfg("loss=l1"), tmp_path)
    before = (tmp_path / "metrics.json").stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="lossbench"):
        again = run(make_cfg("loss=l1", "trainer.resume=true"), tmp_path)
    assert again == json.loads((tmp_path / "metrics.json").read_text())
    assert again["final"] == first["final"]
    assert (tmp_path / "metrics.json").stat().st_mtime_ns == before
    assert "nothing to resume" in caplog.text


def test_a_run_dir_is_never_overwritten_without_resume(make_cfg, tmp_path):
    run(make_cfg("loss=l1"), tmp_path)
    with pytest.raises(UserError, match=r"already holds a run: add trainer\.resume=true"):
        run(make_cfg("loss=l1"), tmp_path)


def test_resuming_with_another_config_is_refused(make_cfg, tmp_path):
    run(make_cfg("loss=l1"), tmp_path)
    record = results.read(tmp_path)
    record["status"] = "running"  # as a killed run leaves it
    results.write(tmp_path, record)
    with pytest.raises(UserError, match=r"holds a run with loss\.name='l1', not 'mse'"):
        run(make_cfg("loss=mse", "trainer.resume=true"), tmp_path)


@pytest.mark.numerics
def test_resume_may_extend_training(make_cfg, tmp_path):
    run(make_cfg("loss=l1", "trainer.max_epochs=1"), tmp_path / "short")
    record = results.read(tmp_path / "short")
    record["status"] = "interrupted"
    results.write(tmp_path / "short", record)
    longer = run(make_cfg("loss=l1", "trainer.max_epochs=2", "trainer.resume=true"),
                 tmp_path / "short")
    straight = run(make_cfg("loss=l1", "trainer.max_epochs=2"), tmp_path / "straight")
    assert history(longer) == history(straight)


def test_unexpected_error_is_recorded_as_failed(make_cfg, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("trainer.engine.loop.evaluate", broken)
    with pytest.raises(RuntimeError):  # a single run shows the traceback
        run(make_cfg(), tmp_path / "single")
    # A sweep job records it and returns, so the sweep goes on.
    swept = run(make_cfg(), tmp_path / "swept", multirun=True)
    for run_dir in ("single", "swept"):
        record = results.read(tmp_path / run_dir)
        assert record["status"] == "failed" and record["reason"] == "RuntimeError: out of memory"
    assert swept == results.read(tmp_path / "swept")


def test_resubmitted_sweep_resumes_unfinished_runs_only(tmp_path):
    sweep = tmp_path / "sweep"
    # The first job ends after one epoch; the second is killed early in its second.
    epochs = [o for o in SMALL if not o.startswith("trainer.max_epochs=")]
    args = ["-m", *epochs, "trainer.max_epochs=1,3", f"hydra.sweep.dir={sweep}"]
    train_killed(*args, at="2:1")
    first, second = next(sweep.glob("0_*")), next(sweep.glob("1_*"))
    assert results.read(second)["epochs_completed"] == 1
    assert results.read(first)["status"] == "ok" and results.read(second)["status"] == "running"
    finished_at = (first / "metrics.json").stat().st_mtime_ns
    again = train_cli(*args, "trainer.resume=true")
    assert again.returncode == 0, again.stderr
    assert (first / "metrics.json").stat().st_mtime_ns == finished_at
    assert results.read(second)["status"] == "ok"
    assert "resuming" in (second / "train.log").read_text()


def test_restart_without_checkpoint_drops_the_dead_runs_curves(make_cfg, tmp_path):
    run(make_cfg("loss=l1"), tmp_path)
    (tmp_path / checkpoint.CHECKPOINT).unlink()  # as if killed before the first epoch ended
    record = results.read(tmp_path)
    record["status"] = "running"
    results.write(tmp_path, record)
    run(make_cfg("loss=l1", "trainer.resume=true"), tmp_path)
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1
    assert tensorboard_steps(tmp_path)["epoch"] == [4, 8]
