"""The `logger` group: TensorBoard (default), scalars.csv, both, and resume for each."""

from __future__ import annotations

import csv
import inspect
from pathlib import Path

import numpy as np
import pytest
from conftest import CONFIGS, TINY_REGRESSION, compose_cfg, train_cli
from omegaconf import OmegaConf
from tbparse import SummaryReader

from scripts.reporting import runs as report_runs
from trainer.run import run
from trainer.rundir import results
from trainer.sinks import CSV_COLUMNS, SINKS

BOTH = "logger=[tensorboard,csv]"


def csv_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "scalars.csv", newline="") as f:
        return list(csv.DictReader(f))


def scalars(run_dir: Path, as_float32: bool = False) -> set[tuple[int, str, float]]:
    """(step, tag, value) of every row of scalars.csv; TensorBoard keeps float32 values."""
    cast = (lambda v: float(np.float32(v))) if as_float32 else float
    return {(int(r["step"]), r["tag"], cast(r["value"])) for r in csv_rows(run_dir)}


def tensorboard_scalars(run_dir: Path) -> set[tuple[int, str, float]]:
    found = SummaryReader(str(run_dir), event_types={"scalars"}).scalars
    return {(int(s), t, float(v)) for s, t, v in zip(found.step, found.tag, found.value,
                                                     strict=True)}


def test_every_logger_option_reads_every_key_it_has():
    for path in sorted((CONFIGS / "logger").glob("*.yaml")):
        options = compose_cfg(f"logger={path.stem}").logger
        assert list(options) == [path.stem]  # each option under its own key: lists compose
        accepted = set(inspect.signature(SINKS[path.stem]).parameters) - {"run_dir", "purge_step"}
        assert set(options[path.stem]) <= accepted, path.name


def test_csv_logger_holds_the_same_scalars_as_tensorboard(make_cfg, tmp_path):
    cfg = make_cfg("task=regression", "loss=l1", BOTH)
    assert list(cfg.logger) == ["tensorboard", "csv"]
    record = run(cfg, tmp_path)
    rows = csv_rows(tmp_path)
    assert tuple(rows[0]) == CSV_COLUMNS
    assert all(float(r["wall_time"]) > 1e9 for r in rows)
    assert scalars(tmp_path, as_float32=True) == tensorboard_scalars(tmp_path)
    got = scalars(tmp_path)
    final_step = max(step for step, _, _ in got)
    assert {(final_step, tag, value) for tag, value in record["final"].items()} <= got


def test_csv_alone_writes_no_event_files_and_the_report_reads_its_curves(make_cfg, tmp_path):
    run(make_cfg("task=regression", "loss=l1", "logger=csv"), tmp_path / "run")
    assert not list((tmp_path / "run").glob("events.out.tfevents.*"))
    curves = report_runs.load(tmp_path).curves
    assert sorted(set(curves[curves.tag == "test/mse"].epoch)) == [1, 2]


def test_resume_drops_the_rows_logged_after_the_checkpoint(make_cfg, tmp_path):
    straight = tmp_path / "straight"
    run(make_cfg("loss=l1", "logger=csv", "trainer.max_epochs=2"), straight)
    killed = tmp_path / "killed"
    run(make_cfg("loss=l1", "logger=csv", "trainer.max_epochs=1"), killed)
    # As a kill in epoch 2 leaves it: rows past the checkpoint's step, a torn last row.
    with open(killed / "scalars.csv", "a") as f:
        f.write("6,train/loss,123.0,1800000000.0\n7,train/lo")
    record = results.read(killed)
    record["status"] = "running"
    results.write(killed, record)
    run(make_cfg("loss=l1", "logger=csv", "trainer.max_epochs=2", "trainer.resume=true"), killed)
    assert scalars(killed) == scalars(straight)
    steps = [(int(r["step"]), r["tag"]) for r in csv_rows(killed)]
    assert len(steps) == len(set(steps))


def test_both_loggers_from_the_command_line_in_a_run_and_a_sweep(tmp_path):
    single = train_cli("task=regression", "trainer.max_epochs=1", "trainer.device=cpu",
                       *TINY_REGRESSION, BOTH, f"hydra.run.dir={tmp_path / 'single'}")
    assert single.returncode == 0, single.stderr
    sweep = tmp_path / "sweep"
    swept = train_cli("-m", "task=regression", "loss=l1,mse", "trainer.max_epochs=1",
                      "trainer.device=cpu", *TINY_REGRESSION, BOTH, f"hydra.sweep.dir={sweep}")
    assert swept.returncode == 0, swept.stderr
    run_dirs = [tmp_path / "single", *sorted(sweep.glob("*_loss=*"))]
    assert len(run_dirs) == 3
    for run_dir in run_dirs:
        assert (run_dir / "scalars.csv").is_file() and list(run_dir.glob("events.out.*"))
        assert scalars(run_dir, as_float32=True) == tensorboard_scalars(run_dir)


def test_an_empty_logger_list_keeps_only_metrics_json(make_cfg, tmp_path):
    composed = compose_cfg("logger=[]")
    assert OmegaConf.select(composed, "logger") is None
    cfg = make_cfg("loss=l1", "logger=[]")
    assert run(cfg, tmp_path / "run")["status"] == "ok"
    # .lock is the run-dir lock (trainer/rundir/lock.py), not a logger's output.
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"metrics.json", "checkpoints",
                                                               ".lock"}


@pytest.mark.parametrize("name", ["bogus"])
def test_an_unknown_sink_is_one_clear_error(tmp_path, name):
    from lossbench.errors import UserError
    from trainer.logger import RunLogger

    with pytest.raises(UserError, match=r"logger='bogus' is not valid: any of tensorboard, csv"):
        RunLogger(tmp_path, {"wall_s": 0.0}, {name: {}})


def interrupt_after_epoch_1(monkeypatch) -> None:
    """Ctrl-C once epoch 1 is committed, as a user would press it during epoch 2."""
    from trainer.logger import RunLogger

    commit = RunLogger.commit

    def commit_then_stop(self) -> None:
        commit(self)
        if self.record["epochs_completed"] == 1:
            raise KeyboardInterrupt("SIGINT")

    monkeypatch.setattr(RunLogger, "commit", commit_then_stop)


def test_the_report_merges_every_sink_a_resumed_run_wrote(make_cfg, tmp_path, monkeypatch):
    """Issue 25 F: epoch 1 in the event files, epochs 2-3 in scalars.csv after a resume that
    switched the logger; the curve has all three epochs, each from the sink that logged it."""
    interrupt_after_epoch_1(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run(make_cfg("loss=l1", "trainer.max_epochs=3"), tmp_path / "run")
    monkeypatch.undo()
    record = run(make_cfg("loss=l1", "trainer.max_epochs=3", "logger=csv",
                          "trainer.resume=true"), tmp_path / "run")
    assert record["status"] == "ok"
    assert {float(r["value"]) for r in csv_rows(tmp_path / "run") if r["tag"] == "epoch"} == {
        2.0, 3.0}
    curves = report_runs.load(tmp_path).curves
    mse = curves[curves.tag == "test/mse"].sort_values("epoch")
    assert list(mse.epoch) == [1, 2, 3]
    assert list(mse.value) == pytest.approx([h["test/mse"] for h in record["history"]],
                                            rel=1e-6)


def hparams_sessions(run_dir: Path) -> int:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    return sum(value.tag == "_hparams_/session_start_info"
               for path in run_dir.glob("events.out.tfevents.*")
               for event in EventFileLoader(str(path)).Load()
               for value in event.summary.value)


def test_hparams_are_written_once_after_an_interrupt_and_resume(make_cfg, tmp_path,
                                                               monkeypatch):
    interrupt_after_epoch_1(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run(make_cfg("loss=l1", "trainer.max_epochs=2"), tmp_path / "run")
    monkeypatch.undo()
    assert hparams_sessions(tmp_path / "run") == 0  # not over yet: resumable
    run(make_cfg("loss=l1", "trainer.max_epochs=2", "trainer.resume=true"), tmp_path / "run")
    assert hparams_sessions(tmp_path / "run") == 1


def test_hparams_are_written_once_when_a_resume_extends_a_finished_run(make_cfg, tmp_path):
    run(make_cfg("loss=l1", "trainer.max_epochs=1"), tmp_path / "run")
    assert hparams_sessions(tmp_path / "run") == 1
    record = run(make_cfg("loss=l1", "trainer.max_epochs=2", "trainer.resume=true"),
                 tmp_path / "run")
    assert record["status"] == "ok" and record["epochs_completed"] == 2
    assert hparams_sessions(tmp_path / "run") == 1
