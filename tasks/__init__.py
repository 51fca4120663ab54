"""The task registry: every task by the name `cfg.task.name` gives, listed here.

A task is a module (or object) that follows `lossbench.contract.Task`: it
declares KIND, N_OUTPUTS, METRICS and `Config` (the schema of its config
values), checks what that schema cannot say with `check(cfg)` and returns its
data on the CPU from `build(cfg)`. Every
classification task also takes label noise (`task.label_noise`,
`task.noise_type`), and every task a validation split (`task.val_fraction`,
`task.val_clean`): `get` adds both (tasks/noise.py, tasks/validation.py), so no
task flips labels or holds data out itself. METRICS' first is the main metric.
"""

from __future__ import annotations

import importlib

from lossbench.contract import Task
from lossbench.registry import lookup

# name → "module" or "module:attribute". Imported on first use: a task's own
# imports (scikit-learn, torchvision) cost seconds that other tasks need not pay.
TASKS = {
    "digits": "tasks.digits",
    "fashion_mnist": "tasks.mnist_like:FASHION_MNIST",
    "mnist": "tasks.mnist_like:MNIST",
    "mnist_binary": "tasks.mnist_binary",
    "regression": "tasks.regression",
}


def names() -> list[str]:
    return sorted(TASKS)


def get(name: str) -> Task:
    module, _, attribute = lookup("task", TASKS, name).partition(":")
    task = importlib.import_module(module)
    if attribute:
        task = getattr(task, attribute)
    from tasks import noise, validation

    if task.KIND != "regression":
        task = noise.LabelNoise(task)
    return validation.Validated(task)  # after the noise: the held-out part carries it
