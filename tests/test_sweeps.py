"""Presets, the lr search and the launcher configs compose to what they promise."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys

import hydra.utils
import pytest
from conftest import CONFIGS, compose_cfg, config_loader, train_cli
from omegaconf import DictConfig, OmegaConf

import tasks
from trainer import losses
from trainer.assemble import check_all

PRESETS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
# Each preset's sweep cut to a few jobs: every key the preset sweeps over several values
# gets a short list here, so a key added to a preset and not here fails the test.
SMALL = {
    "all": {"pair": "regression-mse,mnist-ce,mnist_binary-bce", "seed": "0"},
    "apl_mnist": {"apl_loss": "ce,nce_rce", "apl_noise": "sym40", "seed": "0"},
    "binary": {"loss": "bce,bce_logits", "seed": "0"},
    "convergence": {"loss": "ce,mse", "seed": "0"},
    "label_noise": {"loss": "ce,gce", "task.label_noise": "0.4", "seed": "0"},
    "robustness": {"loss": "mse,l1", "task.outlier_fraction": "0.2", "seed": "0"},
}
pytestmark = pytest.mark.filterwarnings("ignore:(?s).*validated against ConfigStore schema")


def hydra_cfg(*overrides: str) -> DictConfig:
    return compose_cfg(*overrides, hydra=True)


def valid_pairs() -> set[tuple[str, str]]:
    return {(t, loss) for t in tasks.names() if t not in tasks.USER_DATA
            for loss in losses.valid_for(tasks.get(t).KIND)}


def sweep_jobs(preset: str) -> list[list[str]]:
    """The jobs `python train.py -m experiment=<preset>` launches, as Hydra's basic sweeper
    expands them (glob(*) over a config group included)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = hydra_cfg(f"experiment={preset}").hydra.sweeper.params
    with config_loader() as loader:
        parser = OverridesParser.create(config_loader=loader)
        parsed = parser.parse_overrides([f"{k}={v}" for k, v in params.items()])
        return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


# What each preset's header comment promises (`all`: every valid pair, 3 seeds each).
JOBS = {"robustness": 4 * 6 * 3, "label_noise": 5 * 4 * 3, "apl_mnist": 9 * 9 * 3,
        "binary": 4 * 3, "convergence": 3 * 3, "all": None}


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_launches_the_jobs_it_promises_and_each_job_passes_the_checks(preset):
    jobs = sweep_jobs(preset)
    assert len(jobs) == (JOBS[preset] or 3 * len(valid_pairs()))
    assert len({tuple(job) for job in jobs}) == len(jobs)
    # A handful of jobs that between them take every value of every swept key: each
    # composes and passes what a run checks before it builds anything (a pair that does
    # not fit, a value out of range).
    width = max(len({job[k] for job in jobs}) for k in range(len(jobs[0])))
    picked = {tuple(jobs[i * len(jobs) // width]) for i in range(width)} | {tuple(jobs[-1])}
    values = [{job[k] for job in jobs} for k in range(len(jobs[0]))]
    for k, seen in enumerate(values):
        missing = seen - {job[k] for job in picked}
        picked |= {tuple(next(j for j in jobs if j[k] == v)) for v in missing}
    for job in sorted(picked):
        cfg = compose_cfg(f"experiment={preset}", *job, "trainer.device=cpu")
        check_all(cfg)
        # A 2-core CPU must get through the sweep; apl_mnist keeps the paper's 50 epochs.
        assert cfg.trainer.max_epochs <= (50 if preset == "apl_mnist" else 10)


def test_all_sweeps_the_pair_group_which_holds_exactly_the_valid_pairs():
    assert hydra_cfg("experiment=all").hydra.sweeper.params.pair == "glob(*)"
    files = {p.stem for p in (CONFIGS / "pair").glob("*.yaml")}
    assert files == {f"{t}-{loss}" for t, loss in valid_pairs()}
    check = subprocess.run([sys.executable, "-m", "scripts.gen.pairs", "--check"],
                           cwd=CONFIGS.parent, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("pair", ["regression-huber", "mnist_binary-bce_logits", "mnist-ce"])
def test_a_pair_selects_its_task_and_loss(pair):
    cfg = hydra_cfg(f"pair={pair}")
    assert f"{cfg.task.name}-{cfg.loss.name}" == pair


def test_lr_search_is_optuna_on_a_log_scale_following_the_objective():
    cfg = hydra_cfg("hparams_search=lr", "objective.direction=maximize")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper")
    assert sweeper.params["optim.lr"].startswith("tag(log")
    assert sweeper.direction == "maximize"
    assert cfg.hydra.mode.name == "MULTIRUN"


def test_lr_grid_needs_no_optuna():
    cfg = hydra_cfg("hparams_search=lr_grid")
    assert "optuna" not in str(cfg.hydra.sweeper._target_).lower()
    lrs = [float(v) for v in cfg.hydra.sweeper.params["optim.lr"].split(",")]
    assert min(lrs) == 1e-4 and max(lrs) == 1e-1


@pytest.mark.parametrize("name", ["submitit_slurm", "submitit_local"])
def test_launcher_configs_use_only_the_plugin_options(name):
    from hydra_plugins.hydra_submitit_launcher import config

    schema = {"submitit_slurm": config.SlurmQueueConf, "submitit_local": config.LocalQueueConf}
    ours = set(OmegaConf.load(CONFIGS / "hydra" / "launcher" / f"{name}.yaml"))
    assert ours and ours <= {f.name for f in dataclasses.fields(schema[name])}
    launcher = hydra_cfg(f"hydra/launcher={name}").hydra.launcher
    # submitit_slurm is the plugin's launcher made safe on a real cluster (trainer/slurm/).
    # By name: Hydra's plugin scan loads plugin modules afresh, so class objects differ.
    bases = {f"{c.__module__}.{c.__qualname__}"
             for c in hydra.utils.get_class(launcher._target_).__mro__}
    assert schema[name]._target_ in bases


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_and_runs(preset, data_dir, tmp_path):
    """python train.py -m experiment=<preset>, its sweep cut short, on the tiny datasets."""
    swept = dict(hydra_cfg(f"experiment={preset}").hydra.sweeper.params)
    small = SMALL[preset]
    several = {k for k, v in swept.items() if "," in str(v) or "(" in str(v)}
    assert several <= set(small), f"SMALL[{preset!r}] must cut every key the preset sweeps"
    sweep = tmp_path / "sweep"
    result = train_cli("-m", f"experiment={preset}", *(f"{k}={v}" for k, v in small.items()),
                       "trainer.max_epochs=1", "trainer.limit_train_batches=2",
                       "trainer.device=cpu", f"hydra.sweep.dir={sweep}",
                       env={**os.environ, "LOSSBENCH_DATA": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")]
    assert len(records) == math.prod(len(v.split(",")) for v in small.values())
    assert all(r["status"] == "ok" and r["epochs_completed"] == 1 for r in records), records
