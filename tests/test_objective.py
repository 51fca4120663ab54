"""What train.py returns to an optimising sweeper: a number, never NaN."""

from __future__ import annotations

import math
import os

import pytest
import yaml
from conftest import ROOT, TINY_REGRESSION, compose_cfg, train_cli
from hypothesis import given
from hypothesis import strategies as st
from omegaconf import OmegaConf

from lossbench.errors import UserError
from trainer import objective, schemas


def cfg(metric: str = "test/mse", direction: str = "minimize", task: str = "regression"):
    return OmegaConf.create({"objective": {"metric": metric, "direction": direction},
                             "task": {"name": task}})


@given(status=st.sampled_from(["ok", "diverged", "skipped", "failed"]),
       value=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
       direction=st.sampled_from(objective.DIRECTIONS))
def test_the_objective_is_never_nan(status, value, direction):
    record = {"status": status, "final": {} if value is None else {"test/mse": value}}
    result = objective.value(cfg(direction=direction), record)
    assert not math.isnan(result)
    worst = math.inf if direction == "minimize" else -math.inf
    if status != "ok" or value is None or not math.isfinite(value):
        assert result == worst
    else:
        assert result == value


def test_a_misspelt_objective_is_refused_before_training():
    objective.check(cfg("test/r2", "maximize"))
    with pytest.raises(UserError, match=r"objective\.direction='down'.*minimize, maximize"):
        schemas.check(compose_cfg("objective.direction=down"))
    with pytest.raises(UserError, match=r"test/accuracy.*task=regression.*test/mse"):
        objective.check(cfg("test/accuracy"))


def test_a_wrong_objective_on_the_command_line_is_one_clear_line(tmp_path):
    result = train_cli("task=regression", "objective.metric=test/accuracy",
                       f"hydra.run.dir={tmp_path}", "trainer.device=cpu", *TINY_REGRESSION)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: objective.metric='test/accuracy' is not a metric of task=regression; "
        "choose one of val/mse, val/mae, val/r2, val/loss, test/mse, test/mae, test/r2, "
        "test/loss, train/loss_epoch."]


@pytest.mark.parametrize(("task", "metric", "direction"), [
    ("mnist", "val/accuracy", "maximize"), ("mnist_binary", "val/accuracy", "maximize"),
    ("regression", "val/mse", "minimize")])
def test_by_default_the_objective_is_the_main_validation_metric(make_cfg, task, metric,
                                                                 direction):
    cfg = make_cfg(f"task={task}")
    assert (cfg.objective.metric, cfg.objective.direction) == (metric, direction)
    objective.check(cfg)


def test_without_a_validation_split_the_default_is_the_test_metric(make_cfg):
    cfg = make_cfg("task=regression", "task.val_fraction=0")
    assert (cfg.objective.metric, cfg.objective.direction) == ("test/mse", "minimize")
    with pytest.raises(UserError, match=r"objective\.metric='val/mse' needs a validation split"):
        objective.check(make_cfg("task=regression", "task.val_fraction=0",
                                 "objective.metric=val/mse"))


def test_the_lr_search_optimises_the_validation_metric_in_its_direction():
    cfg = compose_cfg("hparams_search=lr", "task=fashion_mnist", hydra=True)
    assert cfg.objective.metric == "val/accuracy"
    assert cfg.hydra.sweeper.direction == "maximize"


def test_optuna_study_survives_trials_that_diverge(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    sweep = tmp_path / "search"
    result = train_cli("hparams_search=lr", "task=regression", "loss=mse", "optim=sgd",
                       "optim.lr=tag(log, interval(1e4, 1e6))", "hydra.sweeper.n_trials=2",
                       f"hydra.sweep.dir={sweep}", "trainer.max_epochs=1", "trainer.device=cpu",
                       *TINY_REGRESSION, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    runs = sorted(sweep.glob("*/metrics.json"))
    assert len(runs) == 2
    assert all(yaml.safe_load(p.read_text())["status"] == "diverged" for p in runs)
    assert yaml.safe_load((sweep / "optimization_results.yaml").read_text())["best_value"] \
        == math.inf


def test_the_direction_follows_the_metric_unless_given():
    import train  # noqa: F401  registers the metric_direction resolver, as running train.py does

    def direction(*overrides: str) -> str:
        return compose_cfg(*overrides).objective.direction

    assert direction() == "minimize"  # test/loss
    assert direction("task=mnist", "objective.metric=test/accuracy") == "maximize"
    assert direction("objective.metric=test/r2") == "maximize"
    assert direction("objective.metric=test/r2", "objective.direction=minimize") == "minimize"
