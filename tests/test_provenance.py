"""metrics.json's `env`: what a run ran with, where from, on what; and what reads it."""

from __future__ import annotations

import csv
import os
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY_REGRESSION, train_cli
from tbparse import SummaryReader

from scripts.report import main as report_main
from scripts.reporting import environment
from scripts.reporting import runs as report_runs
from trainer import provenance
from trainer.run import run
from trainer.rundir import checkpoint, results

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, env=env).stdout.strip()


def test_env_names_versions_hardware_and_command():
    env = provenance.collect("cpu")
    assert env["versions"]["python"] == platform.python_version()
    assert env["versions"]["torch"] == torch.__version__
    assert {"torchvision", "hydra-core", "lossbench"} <= set(env["versions"])
    assert env["cpu"]["cores"] == os.cpu_count() and env["cpu"]["model"]
    assert env["cpu"]["torch_threads"] == torch.get_num_threads()
    assert env["gpu"] is None  # the run is on the CPU, whatever the machine has
    assert env["command"] == shlex.join(sys.orig_argv) and env["cwd"] == os.getcwd()


@needs_git
def test_git_state_gives_the_commit_and_whether_tracked_files_changed(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git(tmp_path, "add", "code.py")
    git(tmp_path, "commit", "-q", "-m", "first")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert provenance.git_state(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "notes.txt").write_text("untracked files do not count\n")
    assert provenance.git_state(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert provenance.git_state(tmp_path) == {"commit": head, "dirty": True}


def test_git_state_is_silent_outside_a_checkout_or_without_git(tmp_path, monkeypatch):
    assert provenance.git_state(tmp_path) is None  # no .git: nothing run at all
    (tmp_path / ".git").mkdir()  # looks like a checkout, but git cannot read it
    assert provenance.git_state(tmp_path) is None
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no git binary
    assert provenance.git_state(ROOT) is None


@needs_git
def test_a_runs_record_and_tensorboard_carry_the_env(make_cfg, tmp_path):
    record = run(make_cfg("task=regression", "loss=l1"), tmp_path)
    env = results.read(tmp_path)["env"]
    assert env == record["env"]
    if (ROOT / ".git").exists():
        assert env["git"]["commit"] == git(ROOT, "rev-parse", "HEAD")
    texts = SummaryReader(str(tmp_path), event_types={"text"}).text
    assert list(texts.tag) == ["env"] and list(texts.step) == [0]
    assert env["versions"]["torch"] in texts.value[0] and env["command"] in texts.value[0]


def test_resume_on_another_commit_is_allowed(make_cfg, tmp_path, monkeypatch):
    run(make_cfg("loss=l1", "trainer.max_epochs=1"), tmp_path)
    record = results.read(tmp_path)
    record["status"] = "interrupted"
    results.write(tmp_path, record)
    newer = {**record["env"], "git": {"commit": "f" * 40, "dirty": False}}
    monkeypatch.setattr(provenance, "collect", lambda device="cpu": newer)
    resumed = run(make_cfg("loss=l1", "trainer.max_epochs=2", "trainer.resume=true"), tmp_path)
    assert resumed["status"] == "ok" and resumed["epochs_completed"] == 2
    assert results.read(tmp_path)["env"]["git"]["commit"] == "f" * 40  # the finishing session
    assert "env" not in checkpoint.load(tmp_path, torch.device("cpu"))["record"]["hparams"]
    # Each session's block goes to TensorBoard once, at the step it started from.
    texts = SummaryReader(str(tmp_path), event_types={"text"}).text
    assert list(texts.step) == [0, 256 // 64 + 1]  # TINY_REGRESSION: 4 steps an epoch


def test_results_csv_has_commit_device_and_versions_and_the_summary_warns_on_a_mix(tmp_path):
    sweep = tmp_path / "sweep"
    done = train_cli("-m", "task=regression", "loss=l1,mse", "trainer.max_epochs=1",
                     "trainer.device=cpu", *TINY_REGRESSION, f"hydra.sweep.dir={sweep}")
    assert done.returncode == 0, done.stderr
    found = report_runs.load(sweep)
    assert set(environment.COLUMNS) <= set(found.table.columns)
    assert set(found.table["env/torch"]) == {torch.__version__}
    assert found.table.device.notna().all() and environment.warning(found.table) == []
    older = next(sweep.glob("1_*"))
    record = results.read(older)
    record["env"]["versions"]["torch"] = "2.6.0"
    record["env"]["git"] = {"commit": "a" * 40, "dirty": True}
    results.write(older, record)
    lines = "\n".join(environment.warning(report_runs.load(sweep).table))
    assert "do not share one environment" in lines
    assert f"- torch: {torch.__version__} (1 run), 2.6.0 (1 run)" in lines or \
        f"- torch: 2.6.0 (1 run), {torch.__version__} (1 run)" in lines
    assert "aaaaaaaaaaaa+dirty (1 run)" in lines
    assert report_main([str(sweep)]) == 0
    assert "## Warning: these runs do not share one environment" in \
        (sweep / "report" / "summary.md").read_text()
    with open(sweep / "report" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["env/torch"] for r in rows} == {torch.__version__, "2.6.0"}
    assert all(r["device"] == provenance.label(results.read(sweep / r["run"])["env"])
               for r in rows)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_run_names_its_gpu_cuda_and_driver(make_cfg, tmp_path):
    record = run(make_cfg("task=regression", "loss=l1", "trainer.device=cuda"), tmp_path)
    gpu = record["env"]["gpu"]
    assert gpu["name"] == torch.cuda.get_device_name(0)
    assert gpu["cuda"] == torch.version.cuda and gpu["driver"]
