"""Tasks, one module each, looked up by the name in `cfg.task.name`.

Each module declares KIND, N_OUTPUTS (or a function of the config), METRICS
(the first is the task's main metric), `check(cfg)` for its config values and
`build(cfg) -> TaskData` (on the CPU). Callers go through `check` and `build`
here, which add what every task shares: the validation split.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from omegaconf import DictConfig

from tasks import validation
from tasks.base import KINDS, Kind, Misfit, TaskData, UserError, is_int, is_number, require

__all__ = ["KINDS", "Kind", "Misfit", "TaskData", "UserError", "build", "check", "get", "is_int",
           "is_number", "names", "require"]

_NOT_TASKS = {"base", "idx", "metrics", "noise", "validation"}


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_TASKS)


def get(name: str) -> ModuleType:
    if name not in names():
        raise UserError(f"task={name!r} is not a task; valid: {', '.join(names())}.")
    return importlib.import_module(f"tasks.{name}")


def check(task: ModuleType, cfg: DictConfig) -> None:
    """Every value of `cfg.task`, before any data is read."""
    task.check(cfg)
    validation.check(cfg)


def build(task: ModuleType, cfg: DictConfig) -> TaskData:
    """The task's data, with `cfg.val_fraction` of its training part held out for validation."""
    return validation.carve(task.build(cfg), cfg)
