"""Runs that collide: one process per run dir, and a refused run leaves the dir as it was
(issue 16, cases 1-3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import QUICK_REGRESSION, ROOT, one_line, train_cli, wait_for_epoch
from omegaconf import OmegaConf

from trainer.rundir import checkpoint, results
from trainer.rundir.lock import LOCK_FILE, InUse, RunDirLock

QUICK = ["task=regression", *QUICK_REGRESSION]


def popen_train(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run dir (the lock file aside) and its bytes."""
    return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in run_dir.rglob("*")
            if p.is_file() and p.name != LOCK_FILE}


def test_a_second_process_is_refused_while_the_first_holds_the_dir(tmp_path):
    message = rf"{tmp_path} is in use by process {os.getpid()}; wait for it or choose another"
    with RunDirLock(tmp_path), pytest.raises(InUse, match=message):
        RunDirLock(tmp_path).acquire()
    RunDirLock(tmp_path).acquire().release()  # free again once released


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp_path / LOCK_FILE).write_text(f"{dead.stdout.strip()} somehost\n")  # it never unlocks
    lock = RunDirLock(tmp_path).acquire()
    assert (tmp_path / LOCK_FILE).read_text().split()[0] == str(os.getpid())
    lock.release()


def test_two_runs_started_together_in_one_run_dir(tmp_path):
    """Case 1: only one trains; the other gets one line naming the holder's pid, exit 2."""
    run_dir = tmp_path / "run"
    # Tiny epochs, but so many that the winner still trains when the loser reaches the
    # lock and until the SIGTERM below ends it.
    long = [*QUICK, "loss=mse", "trainer.max_epochs=1000000", f"hydra.run.dir={run_dir}"]
    procs = [popen_train(*long, f"seed={seed}") for seed in (0, 1)]
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.05)
        loser = next(p for p in procs if p.returncode is not None)
        winner = next(p for p in procs if p is not loser)
        _, err = loser.communicate()
        assert loser.returncode == 2, err
        assert one_line(err) == (f"error: {run_dir} is in use by process {winner.pid}; wait for "
                                 "it or choose another run dir.")
        wait_for_epoch(run_dir, 1, winner)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            p.communicate(timeout=120)
    assert winner.returncode == 130
    # Everything in the dir is the winner's: its record, config, log and curves alone.
    seed = procs.index(winner)
    record = results.read(run_dir)
    assert record["status"] == "interrupted" and record["seed"] == seed
    assert OmegaConf.load(run_dir / ".hydra" / "config.yaml").seed == seed
    assert (run_dir / "train.log").read_text().count("regression × mse") == 1
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1


def test_two_sweeps_into_one_sweep_dir_train_each_job_once(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", *QUICK, "loss=l1,mse", f"hydra.sweep.dir={sweep}"]
    procs = [popen_train(*args) for _ in range(2)]
    codes = [p.wait(timeout=300) for p in procs]
    runs = sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(runs) == 2
    for run_dir in runs:
        assert results.read(run_dir)["status"] == "ok"
        assert (run_dir / "train.log").read_text().count("epoch 1 ") == 1, run_dir
    # Four attempts at two jobs: two trained, two were refused (exit 2 for their sweep).
    assert 2 in codes and set(codes) <= {0, 2}


def test_resume_without_a_checkpoint_still_checks_the_config(tmp_path):
    """Case 2: the recorded config is compared even when checkpoints/last.pt is gone."""
    run_dir = tmp_path / "run"
    first = train_cli(*QUICK, "loss=l1", f"hydra.run.dir={run_dir}")
    assert first.returncode == 0, first.stderr
    record = results.read(run_dir)
    record["status"] = "interrupted"  # as a stopped run leaves it
    results.write(run_dir, record)
    (run_dir / checkpoint.CHECKPOINT).unlink()
    before = snapshot(run_dir)
    again = train_cli(*QUICK, "loss=mse", "trainer.resume=true", f"hydra.run.dir={run_dir}")
    assert again.returncode == 2
    assert "holds a run with loss.name='l1', not 'mse'" in one_line(again.stderr)
    assert snapshot(run_dir) == before


def test_resume_checks_hydras_config_when_the_record_is_missing(tmp_path):
    run_dir = tmp_path / "run"
    assert train_cli(*QUICK, "loss=l1", f"hydra.run.dir={run_dir}").returncode == 0
    (run_dir / "metrics.json").unlink()
    (run_dir / checkpoint.CHECKPOINT).unlink()
    again = train_cli(*QUICK, "loss=mse", "trainer.resume=true", f"hydra.run.dir={run_dir}")
    assert again.returncode == 2
    assert "holds a run with loss.name='l1', not 'mse'" in one_line(again.stderr)


def test_a_refused_run_leaves_hydras_files_and_the_log_alone(tmp_path):
    """Case 3: .hydra/ and train.log of the existing run are not rewritten."""
    run_dir = tmp_path / "run"
    assert train_cli(*QUICK, "loss=l1", f"hydra.run.dir={run_dir}").returncode == 0
    before = snapshot(run_dir)
    assert {".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml",
            "train.log", "metrics.json"} <= before.keys()
    for extra in (["seed=7"], ["loss=mse", "trainer.resume=true"]):
        again = train_cli(*QUICK, "loss=l1", *extra, f"hydra.run.dir={run_dir}")
        assert again.returncode == 2, again.stderr
        one_line(again.stderr)
        assert snapshot(run_dir) == before


def test_dot_hydra_holds_what_hydra_itself_writes(tmp_path):
    """lossbench writes .hydra/ itself (after the lock); the files read as Hydra's own."""
    run_dir = tmp_path / "run"
    assert train_cli(*QUICK, "loss=l1", f"hydra.run.dir={run_dir}").returncode == 0
    hydra = OmegaConf.load(run_dir / ".hydra" / "hydra.yaml").hydra
    assert hydra.output_subdir == ".hydra" and hydra.runtime.output_dir == str(run_dir)
    assert OmegaConf.load(run_dir / ".hydra" / "config.yaml").loss.name == "l1"
    overrides = OmegaConf.to_container(OmegaConf.load(run_dir / ".hydra" / "overrides.yaml"))
    assert "loss=l1" in overrides and f"hydra.run.dir={run_dir}" not in overrides
    log = (run_dir / "train.log").read_text()
    assert "regression × l1" in log and "epoch 1 " in log
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "ok"
