"""The number train.py hands back to a sweeper that optimises (hparams_search=lr).

Optuna marks a trial failed when it gets NaN, and Hydra's Optuna sweeper then
stops the whole study, so a run that diverged, was skipped or failed returns
the worst value for the direction instead: +inf when minimising, -inf when
maximising. The sweeper records it and moves on to the next trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from omegaconf import MISSING, DictConfig

import tasks
from lossbench.errors import UserError
from lossbench.schema import OneOf, Text
from lossbench.status import RunStatus

DIRECTIONS = ("minimize", "maximize")


@dataclass
class ObjectiveConfig:
    """`objective` in configs/train.yaml."""

    metric: Annotated[str, Text("a metric of the task: test/<metric>, test/loss or "
                                "train/loss_epoch")] = MISSING
    direction: Annotated[str, OneOf(DIRECTIONS)] = MISSING


def check(cfg: DictConfig) -> None:
    """A misspelt objective would make every trial equally bad: refuse it before training."""
    metric = cfg.objective.metric
    if cfg.task.name not in tasks.names():
        return  # run() reports the unknown task itself
    allowed = metric_names(tasks.get(cfg.task.name).METRICS)
    if metric not in allowed:
        raise UserError(f"objective.metric={metric!r} is not a metric of task={cfg.task.name}; "
                        f"choose one of {', '.join(allowed)}.")


def metric_names(task_metrics: tuple[str, ...]) -> list[str]:
    return [*(f"test/{m}" for m in task_metrics), "test/loss", "train/loss_epoch"]


def value(cfg: DictConfig, record: dict[str, Any]) -> float:
    """The run's final `objective.metric`, or the worst value when there is none to trust."""
    worst = math.inf if cfg.objective.direction == "minimize" else -math.inf
    if record["status"] != RunStatus.OK:
        return worst
    result = record["final"].get(cfg.objective.metric)
    if result is None or not math.isfinite(result):
        return worst
    return float(result)
