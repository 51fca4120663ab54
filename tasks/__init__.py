"""Tasks, one module each, looked up by the name in `cfg.task.name`.

Each module declares KIND, N_OUTPUTS (or a function of the config), METRICS,
`Config` (the schema of configs/task/<name>.yaml), optionally `check(cfg)` for
what the schema cannot say (keys bounded by each other), and
`build(cfg) -> TaskData` (on the CPU).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from tasks.base import KINDS, Kind, Misfit, TaskData, UserError, is_int, is_number, require

__all__ = ["KINDS", "Kind", "Misfit", "TaskData", "UserError", "get", "is_int", "is_number",
           "names", "require"]

_NOT_TASKS = {"base", "idx", "metrics", "noise"}


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_TASKS)


def get(name: str) -> ModuleType:
    if name not in names():
        raise UserError(f"task={name!r} is not a task; valid: {', '.join(names())}.")
    return importlib.import_module(f"tasks.{name}")
