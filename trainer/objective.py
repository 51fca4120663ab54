"""The number train.py hands back to a sweeper that optimises (hparams_search=lr).

By default that is the task's main metric on the validation split (val/accuracy,
val/mse), so a learning rate is tuned without looking at the test set
(`default_metric`, the `main_metric` resolver in configs/train.yaml); its
direction follows from the metric unless given (`metric_direction`).

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

    metric: Annotated[str, Text("a metric of the task: val/<metric>, test/<metric>, val/loss, "
                                "test/loss or train/loss_epoch")] = MISSING
    direction: Annotated[str, OneOf(DIRECTIONS)] = MISSING


def check(cfg: DictConfig) -> None:
    """A misspelt objective would make every trial equally bad: refuse it before training."""
    metric = cfg.objective.metric
    if cfg.task.name not in tasks.names():
        return  # run() reports the unknown task itself
    with_val = cfg.task.get("val_fraction", 0) != 0
    # The task its config describes: task=table's metrics follow its file's targets, and a
    # file it cannot use is refused here, before any run dir is claimed.
    allowed = metric_names(tasks.get(cfg.task.name, cfg.task).METRICS, with_val)
    if metric.startswith("val/") and not with_val:
        raise UserError(f"objective.metric={metric!r} needs a validation split, but "
                        f"task.val_fraction={cfg.task.val_fraction}; choose one of "
                        f"{', '.join(allowed)}, or set task.val_fraction above 0.")
    if metric not in allowed:
        raise UserError(f"objective.metric={metric!r} is not a metric of task={cfg.task.name}; "
                        f"choose one of {', '.join(allowed)}.")


def metric_names(task_metrics: tuple[str, ...], with_val: bool = False) -> list[str]:
    splits = ("val", "test") if with_val else ("test",)
    return [*(f"{s}/{m}" for s in splits for m in (*task_metrics, "loss")), "train/loss_epoch"]


def default_metric(task_name: str, val_fraction: Any, _root_: Any = None) -> str:
    """`val/<the task's first metric>`, or `test/…` without a validation split. OmegaConf
    passes the whole config as `_root_`: task=table's metric depends on its file."""
    if task_name not in tasks.names():
        return "test/loss"  # run() reports the unknown task itself
    split = "test" if val_fraction in (0, 0.0, "0") else "val"
    try:
        task = tasks.get(task_name, None if _root_ is None else _root_.task)
    except UserError:  # a resolver's error would lose its line: the checks report it
        task = tasks.get(task_name)
    return f"{split}/{(*task.METRICS, 'loss')[0]}"


def value(cfg: DictConfig, record: dict[str, Any] | None) -> float:
    """The run's final `objective.metric`, or the worst value when there is none to trust
    (also for None: a sweep job refused its run dir)."""
    worst = math.inf if cfg.objective.direction == "minimize" else -math.inf
    if record is None or record["status"] != RunStatus.OK:
        return worst
    result = record["final"].get(cfg.objective.metric)
    if result is None or not math.isfinite(result):
        return worst
    return float(result)
