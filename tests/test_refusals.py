"""Issue 25's reproductions: each mistake one stderr line with exit code 2 and no run left
`running`, or the correct result (a resume that raises max_epochs, a report across sinks)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import TINY_REGRESSION, train_cli

from scripts.reporting import runs

QUICK = ["task=regression", "trainer.max_epochs=1", *TINY_REGRESSION]


def one_line(done) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def none_running(root: Path) -> None:
    for record in root.rglob("metrics.json"):
        assert json.loads(record.read_text())["status"] != "running", record


@pytest.mark.parametrize("value", ["0", "-1", "abc", "null", "1.5", "true"])
def test_population_max_members_is_checked_before_any_run(tmp_path, value):
    done = train_cli("-m", *QUICK, "loss=l1,mse", "hydra/launcher=population",
                     f"hydra.launcher.max_members={value}", f"hydra.sweep.dir={tmp_path}")
    assert done.returncode == 2
    assert one_line(done) == (f"error: hydra.launcher.max_members={value} is not valid: an "
                              "integer >= 1 (the most runs in one population).")
    assert not list(tmp_path.glob("*/metrics.json"))


@pytest.mark.parametrize("value", ["abc", "-5"])
def test_population_cpu_max_macs_is_checked(tmp_path, value):
    done = train_cli("-m", *QUICK, "loss=l1", "hydra/launcher=population",
                     f"hydra.launcher.cpu_max_macs={value}", f"hydra.sweep.dir={tmp_path}")
    assert done.returncode == 2 and "hydra.launcher.cpu_max_macs=" in one_line(done)


@pytest.mark.parametrize(("override", "start"), [
    ("loss=null", "error: loss=null is not valid: a config group takes"),
    ("task=null", "error: task=null is not valid"),
    ("model=null", "error: model=null is not valid"),
    ("hydra/launcher=null", "error: hydra/launcher=null is not valid"),
    ("loss=[l1,mse]", "error: loss=[l1,mse] is not valid: a config group takes one option"),
    ("seed=é", "error: seed=é cannot be read by Hydra's override grammar"),
    ("task=regression,digits", "error: task=regression,digits holds several values: to sweep"),
    ("loss=nope", "error: In 'train': Could not find 'loss/nope' Available options in 'loss':"),
])
def test_what_hydra_cannot_compose_is_one_line(tmp_path, override, start):
    done = train_cli(override, "trainer.max_epochs=1", f"hydra.run.dir={tmp_path / 'run'}")
    assert done.returncode == 2
    assert one_line(done).startswith(start)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_swept_loss_without_the_key_is_named(tmp_path):
    done = train_cli("-m", *QUICK, "loss=huber,smoothl1", "loss.delta=0.5",
                     f"hydra.sweep.dir={tmp_path}")
    assert done.returncode == 2
    assert one_line(done) == ("error: loss.delta=0.5 is not valid for every swept loss: huber "
                              "has delta, smoothl1 has no key delta; sweep loss.delta "
                              "separately with the loss(s) that have it.")


def paths(tmp_path: Path) -> dict[str, tuple[str, str]]:
    afile = tmp_path / "afile"
    afile.write_text("")
    return {"file": (str(afile), "File exists; a file of that name is in the way"),
            "under a file": (str(afile / "sub"), "Not a directory; part of the path is a file"),
            "proc": ("/proc/lossbench-x", "No such file or directory"),
            "long": (str(tmp_path / ("a" * 300)), "File name too long; a name on the path")}


@pytest.mark.parametrize("case", ["file", "under a file", "proc", "long"])
@pytest.mark.parametrize("mode", ["run", "basic sweep", "population sweep"])
def test_an_output_path_that_cannot_be_made_is_one_line(tmp_path, case, mode):
    path, reason = paths(tmp_path)[case]
    if mode == "run":
        done = train_cli(*QUICK, f"hydra.run.dir={path}")
        key = "hydra.run.dir"
    else:
        launcher = ["hydra/launcher=population"] if mode.startswith("population") else []
        done = train_cli("-m", *QUICK, "loss=l1", *launcher, f"hydra.sweep.dir={path}")
        key = "hydra.sweep.dir"
    assert done.returncode == 2
    line = one_line(done)
    assert line.startswith(f"error: {key}: cannot write ") and reason in line
    none_running(tmp_path)


@pytest.mark.parametrize("logs", ["afile", "/proc/nope"])
def test_lossbench_logs_that_cannot_hold_runs_is_one_line(tmp_path, logs):
    (tmp_path / "afile").write_text("")
    target = str(tmp_path / logs) if logs == "afile" else logs
    done = train_cli(*QUICK, env={**os.environ, "LOSSBENCH_LOGS": target})
    assert done.returncode == 2
    assert one_line(done).startswith("error: hydra.run.dir (under $LOSSBENCH_LOGS): cannot write")


def test_an_empty_lossbench_logs_is_unset(tmp_path):
    done = train_cli(*QUICK, cwd=tmp_path, env={**os.environ, "LOSSBENCH_LOGS": ""})
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "logs" / "runs").glob("regression-mse/*/metrics.json"))


@pytest.mark.parametrize("multirun", [True, False])
def test_hydra_job_chdir_is_refused_before_any_run(tmp_path, multirun):
    args = (["-m", *QUICK, "loss=l1", "task.outlier_fraction=0.1,1.5",
             f"hydra.sweep.dir={tmp_path / 'out'}"] if multirun
            else [*QUICK, f"hydra.run.dir={tmp_path / 'out'}"])
    done = train_cli(*args, "hydra.job.chdir=true", cwd=tmp_path)
    assert done.returncode == 2
    assert one_line(done).startswith("error: hydra.job.chdir=true is not supported")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=population"]])
def test_a_resume_that_raises_max_epochs_continues_the_sweeps_runs(tmp_path, launcher):
    sweep = ["-m", "task=regression", "loss=l1,mse", *TINY_REGRESSION, *launcher,
             f"hydra.sweep.dir={tmp_path / 'cut'}"]
    assert train_cli(*sweep, "trainer.max_epochs=1").returncode == 0
    again = train_cli(*sweep, "trainer.max_epochs=3", "trainer.resume=true")
    assert again.returncode == 0, again.stderr
    straight = train_cli(*sweep[:-1], f"hydra.sweep.dir={tmp_path / 'straight'}",
                         "trainer.max_epochs=3")
    assert straight.returncode == 0
    cut = sorted(p.parent.name for p in (tmp_path / "cut").glob("*/metrics.json"))
    assert cut == sorted(p.parent.name for p in (tmp_path / "straight").glob("*/metrics.json"))
    assert len(cut) == 2
    for name in cut:
        ours = json.loads((tmp_path / "cut" / name / "metrics.json").read_text())
        theirs = json.loads((tmp_path / "straight" / name / "metrics.json").read_text())
        assert ours["status"] == "ok" and [h["epoch"] for h in ours["history"]] == [1, 2, 3]
        assert ours["final"] == theirs["final"]


def test_the_report_reads_every_sink_a_resumed_run_wrote(tmp_path):
    run = tmp_path / "run"
    first = train_cli("task=digits", "trainer.max_epochs=1", f"hydra.run.dir={run}")
    assert first.returncode == 0, first.stderr
    more = train_cli("task=digits", "trainer.max_epochs=3", "logger=csv", "trainer.resume=true",
                     f"hydra.run.dir={run}")
    assert more.returncode == 0, more.stderr
    assert list(run.glob("events.out.tfevents.*")) and (run / "scalars.csv").is_file()
    curves, _ = runs.scalars(run, "run")
    assert sorted(curves[curves.tag == "test/accuracy"].epoch) == [1, 2, 3]
