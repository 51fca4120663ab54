"""Honest sweep records: every job ends with a metrics.json, and the closing line counts only
this launch's jobs (issue 16, cases 4 and 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import QUICK_REGRESSION, ROOT, train_cli

from trainer.rundir import names, results
from trainer.rundir.sweep import FINISHED_BEFORE, REFUSED, closing

QUICK = ["task=regression", *QUICK_REGRESSION]

UNTIMED = [o for o in QUICK if not o.startswith("trainer.max_epochs=")]


def closing_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stdout.splitlines() if "job(s) this launch" in line]
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0][lines[0].index("sweep "):]  # after the log line's prefix


def run_dirs(sweep):
    return sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_a_job_that_raises_leaves_a_failed_record_and_the_sweep_goes_on(tmp_path):
    """Case 4: any exception in a job (here the check of task.n_informative against
    task.n_features, which runs per job; a wrong type in a swept list stops the sweep while
    Hydra composes it, tests/test_schema.py) is recorded."""
    sweep = tmp_path / "sweep"
    result = train_cli("-m", *QUICK, "task.n_informative=1000,5", "loss=l1,mse",
                       f"hydra.sweep.dir={sweep}")
    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    records = {p.name: results.read(p) for p in run_dirs(sweep)}
    assert len(records) == 4
    failed = {name for name, r in records.items() if r["status"] == "failed"}
    assert failed == {name for name in records if "n_informative=1000" in name}
    assert all(records[name]["reason"] for name in failed)
    assert closing_line(result).endswith("4 job(s) this launch: 2 failed, 2 ok")
    assert "2 run(s) of the sweep did not finish" in result.stderr
    report = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), str(sweep)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert report.returncode == 0, report.stderr
    assert "4 runs" in report.stdout and "2 failed" in report.stdout


def test_the_closing_line_counts_this_launch_only(tmp_path):
    """Case 8: a re-run without resume is refused, not 'ok'; with resume, already finished;
    a later sweep into the same dir counts its own jobs, not the earlier ones."""
    sweep = tmp_path / "sweep"
    args = ["-m", *QUICK, "loss=l1,mse", f"hydra.sweep.dir={sweep}"]
    first = train_cli(*args)
    assert first.returncode == 0, first.stderr
    assert closing_line(first).endswith("2 job(s) this launch: 2 ok")
    finished = {p: (p / "metrics.json").stat().st_mtime_ns for p in run_dirs(sweep)}

    again = train_cli(*args)
    assert again.returncode == 2
    assert closing_line(again).endswith("2 job(s) this launch: none ran; 2 refused")
    assert "error: 2 job(s) refused, their run dirs left untouched" in again.stderr
    assert "already holds a run: add trainer.resume=true" in again.stderr

    resumed = train_cli(*args, "trainer.resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert closing_line(resumed).endswith("2 job(s) this launch: none ran; 2 already finished")
    assert {p: (p / "metrics.json").stat().st_mtime_ns for p in run_dirs(sweep)} == finished

    later = train_cli("-m", *QUICK, "loss=smoothl1", f"hydra.sweep.dir={sweep}")
    assert later.returncode == 0, later.stderr
    assert closing_line(later).endswith("1 job(s) this launch: 1 ok")
    assert len(run_dirs(sweep)) == 3
    assert not (sweep / ".launches").exists()  # the launch notes are cleared afterwards


def test_closing_line_and_exit_code():
    def entry(outcome: str, run: str = "r") -> dict:
        return {"run": run, "outcome": outcome, "reason": "why"}

    line, errors, code = closing("S", [entry("ok"), entry("skipped"), entry(FINISHED_BEFORE)])
    assert line == "sweep S: 3 job(s) this launch: 1 ok, 1 skipped; 1 already finished"
    assert (errors, code) == ([], 0)
    line, errors, code = closing("S", [entry("ok"), entry(REFUSED, "b"), entry("running", "c")])
    assert line == "sweep S: 3 job(s) this launch: 1 ok, 1 running; 1 refused"
    assert code == 1 and "did not finish: c" in errors[0] and "refused" in errors[1]
    assert closing("S", [])[0] == "sweep S: no job of this launch reported back"


def test_every_job_notes_its_outcome_even_when_refused(tmp_path):
    """A job refused for a busy dir writes nothing into it but still counts."""
    sweep = tmp_path / "sweep"
    first = train_cli("-m", *QUICK, "loss=l1", f"hydra.sweep.dir={sweep}")
    assert first.returncode == 0, first.stderr
    (run_dir,) = run_dirs(sweep)
    record = json.loads((run_dir / "metrics.json").read_text())
    record["loss"] = "edited"  # proves the refused job did not write its own record here
    (run_dir / "metrics.json").write_text(json.dumps(record))
    again = train_cli("-m", *QUICK, "loss=l1", f"hydra.sweep.dir={sweep}")
    assert again.returncode == 2 and "1 refused" in closing_line(again)
    assert results.read(run_dir)["loss"] == "edited"


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "population"])
def test_a_resume_raising_max_epochs_extends_the_same_run(tmp_path, launcher):
    """Issue 25 E: trainer.max_epochs is not part of a job's folder name, so the resume finds
    the run, and an `ok` run continues from its checkpoint instead of a new one from epoch 1."""
    sweep = tmp_path / "sweep"
    base = ["-m", *UNTIMED, "loss=l1", f"hydra/launcher={launcher}", f"hydra.sweep.dir={sweep}"]
    first = train_cli(*base, "trainer.max_epochs=1")
    assert first.returncode == 0, first.stderr
    (run_dir,) = run_dirs(sweep)
    assert "max_epochs" not in run_dir.name
    resumed = train_cli(*base, "trainer.max_epochs=2", "trainer.resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert closing_line(resumed).endswith("1 job(s) this launch: 1 ok")
    assert run_dirs(sweep) == [run_dir]
    record = results.read(run_dir)
    assert record["status"] == "ok" and record["epochs_completed"] == 2
    assert [h["epoch"] for h in record["history"]] == [1, 2]


@pytest.mark.slow
def test_a_resume_finds_a_folder_named_with_max_epochs(tmp_path):
    """Sweeps from before keep trainer.max_epochs=<n> in their folders' names."""
    sweep = tmp_path / "sweep"
    base = ["-m", *UNTIMED, "loss=l1", f"hydra.sweep.dir={sweep}"]
    assert train_cli(*base, "trainer.max_epochs=1").returncode == 0
    (run_dir,) = run_dirs(sweep)
    old = run_dir.with_name(f"{run_dir.name},trainer.max_epochs=1")
    run_dir.rename(old)
    resumed = train_cli(*base, "trainer.max_epochs=2", "trainer.resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert run_dirs(sweep) == [old]
    assert results.read(old)["epochs_completed"] == 2


def test_job_folder_names_fit_and_old_names_are_found(tmp_path):
    long = "0_" + ",".join(f"model.hidden_sizes=[{'8,' * 60}8]" for _ in range(2))
    fitted = names.fitted(long)
    assert len(fitted.encode()) <= names.LONGEST and fitted.startswith("0_model.hidden_sizes=[8")
    assert names.fitted(long) == fitted and names.fitted(long + "9") != fitted
    assert names.fitted("0_loss=l1") == "0_loss=l1"
    (tmp_path / "0_loss=l1,seed=1,trainer.max_epochs=3").mkdir()
    (tmp_path / "0_loss=l1,seed=2,trainer.max_epochs=3").mkdir()
    assert names.older_name(tmp_path, 0, "0_loss=l1,seed=1") == (
        "0_loss=l1,seed=1,trainer.max_epochs=3")
    assert names.older_name(tmp_path, 0, "0_loss=l1,seed=3") is None
    assert names.older_name(tmp_path, 1, "1_loss=l1,seed=1") is None


@pytest.mark.slow
def test_jobs_sharing_one_run_dir_are_told_so(tmp_path):
    """hydra.sweep.subdir=same: the population launcher's second job was told the dir was in
    use by its own process."""
    sweep = tmp_path / "sweep"
    result = train_cli("-m", *QUICK, "loss=l1,mse", "hydra/launcher=population",
                       "hydra.sweep.subdir=same", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert (f"first reason: {sweep / 'same'} is the run dir of another job of this sweep; give "
            "each job its own (hydra.sweep.subdir must differ") in line
    assert results.read(sweep / "same")["status"] == "ok"
