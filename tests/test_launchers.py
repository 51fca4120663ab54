"""The submitit launchers: a real local sweep, and the Slurm path with a mocked executor."""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import ClassVar

import cloudpickle
import pytest
import submitit
from conftest import ROOT, TINY_REGRESSION, train_cli
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

QUICK = ["trainer.max_epochs=1", "trainer.device=cpu", *TINY_REGRESSION]
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


class FakeSlurmJob:
    def __init__(self, result: object) -> None:
        self.result = result

    def results(self) -> list[object]:
        return [self.result]


class FakeSlurmExecutor:
    """Stands in for submitit.AutoExecutor on a cluster: keeps what would go to sbatch
    and runs each array task here, from a pickled copy, inside a Slurm-like environment."""

    created: ClassVar[list[FakeSlurmExecutor]] = []

    def __init__(self, folder: str, cluster: str, **kwargs: object) -> None:
        self.folder, self.cluster, self.init = folder, cluster, kwargs
        self.parameters: dict[str, object] = {}
        FakeSlurmExecutor.created.append(self)

    def update_parameters(self, **kwargs: object) -> None:
        self.parameters.update(kwargs)

    def map_array(self, fn, *iterables) -> list[FakeSlurmJob]:
        jobs = []
        for task_id, args in enumerate(zip(*iterables, strict=True)):
            remote_fn, remote_args = cloudpickle.loads(cloudpickle.dumps((fn, args)))
            env = {"SUBMITIT_EXECUTOR": "slurm", "SLURM_JOB_ID": str(4200 + task_id),
                   "SLURM_ARRAY_JOB_ID": "42", "SLURM_ARRAY_TASK_ID": str(task_id)}
            with pytest.MonkeyPatch.context() as mp:
                for key, value in env.items():
                    mp.setenv(key, value)
                jobs.append(FakeSlurmJob(remote_fn(*remote_args)))
        return jobs


@pytest.fixture
def fake_slurm(monkeypatch):
    FakeSlurmExecutor.created.clear()
    monkeypatch.setattr(submitit, "AutoExecutor", FakeSlurmExecutor)
    yield FakeSlurmExecutor.created
    GlobalHydra.instance().clear()  # train.py ran in this process


def test_slurm_launcher_submits_the_configured_resources(tmp_path, monkeypatch, fake_slurm):
    sweep = tmp_path / "sweep"
    monkeypatch.setattr(sys, "argv", [
        "train.py", "-m", "hydra/launcher=submitit_slurm", "hydra.launcher.partition=cpu",
        "hydra.launcher.timeout_min=20", "hydra.launcher.mem_gb=4",
        "hydra/hydra_logging=disabled", "hydra/job_logging=disabled",
        "task=regression", "loss=l1,mse", f"hydra.sweep.dir={sweep}", *QUICK])
    runpy.run_path(str(ROOT / "train.py"), run_name="__main__")  # as `python train.py`

    (executor,) = fake_slurm
    assert executor.cluster == "slurm"
    assert executor.folder == f"{sweep}/.submitit/%j"
    assert executor.init == {"slurm_max_num_timeout": 3}
    params = executor.parameters
    assert params["slurm_partition"] == "cpu" and params["timeout_min"] == 20
    assert params["mem_gb"] == 4 and params["cpus_per_task"] == 4
    assert params["slurm_array_parallelism"] == 64 and params["name"] == "lossbench"
    assert sorted(statuses(sweep).items()) == [
        ("0_loss=l1,task.n_test=128,task.n_train=256,task=regression", "ok"),
        ("1_loss=mse,task.n_test=128,task.n_train=256,task=regression", "ok")]
    # Each job read its id from the Slurm environment, as submitit does on a cluster.
    assert job_ids(sweep) == ["42_0", "42_1"]
