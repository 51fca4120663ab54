"""The submitit launchers: a real local sweep (Slurm runs on a real cluster in
tests/test_slurm.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import QUICK_REGRESSION, ROOT, train_cli
from omegaconf import OmegaConf

QUICK = QUICK_REGRESSION
pytestmark = pytest.mark.filterwarnings("ignore:(?s).*validated against ConfigStore schema")


def statuses(sweep: Path) -> dict[str, str]:
    return {p.parent.name: json.loads(p.read_text())["status"]
            for p in sweep.glob("*/metrics.json")}


def job_ids(sweep: Path) -> list[str]:
    return [str(OmegaConf.load(p).hydra.job.id) for p in sorted(sweep.glob("*/.hydra/hydra.yaml"))]


def test_submitit_local_runs_each_job_in_its_own_process(tmp_path):
    sweep = tmp_path / "sweep"
    result = train_cli("-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5",
                       "task=regression", "loss=l1,ce", f"hydra.sweep.dir={sweep}", *QUICK,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert sorted(statuses(sweep).values()) == ["ok", "skipped"]
    # Each run got its own submitit job (a process id here), whose folder holds its result.
    ids = job_ids(sweep)
    assert len(set(ids)) == 2
    assert all(list((sweep / ".submitit" / i).glob("*_result.pkl")) for i in ids)
