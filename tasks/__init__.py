"""The task registry: every task by the name `cfg.task.name` gives, listed here.

A task is a module (or object) that follows `lossbench.contract.Task`: it
declares KIND, N_OUTPUTS, METRICS and `Config` (the schema of its config
values), checks what that schema cannot say with `check(cfg)` and returns its
data on the CPU from `build(cfg)`. Every
classification task also takes label noise (`task.label_noise`,
`task.noise_type`), and every task a validation split (`task.val_fraction`,
`task.val_clean`): `get` adds both (tasks/noise.py, tasks/validation.py), so no
task flips labels or holds data out itself. METRICS' first is the main metric. A task
may leave KIND None and answer `resolved(cfg)` with the task its config describes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from lossbench.contract import Task, TaskData
from lossbench.registry import lookup
from lossbench.schema import extended

# name → "module" or "module:attribute". Imported on first use: a task's own
# imports (scikit-learn, torchvision) cost seconds that other tasks need not pay.
TASKS = {
    "breast_cancer": "tasks.sklearn_data:BREAST_CANCER",
    "diabetes": "tasks.sklearn_data:DIABETES",
    "digits": "tasks.digits",
    "fashion_mnist": "tasks.mnist_like:FASHION_MNIST",
    "image_folder": "tasks.image_folder:IMAGE_FOLDER",
    "mnist": "tasks.mnist_like:MNIST",
    "mnist_binary": "tasks.mnist_binary",
    "regression": "tasks.regression",
    "table": "tasks.table:TABLE",
    "wine": "tasks.sklearn_data:WINE",
}

# Tasks of the user's own files (a path or folder to give): no data until one is given, so
# experiment=all's pairs (scripts/gen/pairs.py) leave them out.
USER_DATA = ("image_folder", "table")


def names() -> list[str]:
    return sorted(TASKS)


def get(name: str, cfg: Any = None) -> Task:
    """The task by its name; given its config (`cfg.task`), the task that config describes:
    a task whose KIND is None until its data is seen (task=table reads it from its file)
    answers `resolved(cfg)`, and everything that asks for KIND, N_OUTPUTS or METRICS of a
    run passes the config, so none of them needs to know which tasks do that."""
    module, _, attribute = lookup("task", TASKS, name).partition(":")
    task = importlib.import_module(module)
    if attribute:
        task = getattr(task, attribute)
    if cfg is not None and hasattr(task, "resolved"):
        task = task.resolved(cfg)
    from tasks import noise, validation

    if task.KIND != "regression":
        task = Extended(task, noise.NoiseConfig, noise.apply)
    # After the noise: the held-out part carries it.
    return Extended(task, validation.SplitConfig, validation.carve)


class Extended:
    """A task with keys added to its Config and a step after its build: how `get` gives
    every task label noise and a validation split."""

    def __init__(self, task: Task, keys: type, after_build: Callable[[TaskData, Any], TaskData]
                 ) -> None:
        self.task, self.after_build = task, after_build
        self.KIND, self.N_OUTPUTS, self.METRICS = task.KIND, task.N_OUTPUTS, task.METRICS
        self.Config = extended(task.Config, keys)

    def check(self, cfg: Any) -> None:
        self.task.check(cfg)

    def build(self, cfg: Any) -> TaskData:
        return self.after_build(self.task.build(cfg), cfg)
