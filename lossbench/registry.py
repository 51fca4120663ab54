"""How every config group (task, loss, model, optim) finds what its name means.

Each group keeps an explicit dict from the names its configs may give to
what builds them, with that group's checks beside its builder; `lookup`
turns a name that is not there into the same one-line error for every group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from lossbench.errors import UserError

T = TypeVar("T")


def lookup(group: str, registry: Mapping[str, T], name: object) -> T:
    if not isinstance(name, str) or name not in registry:
        valid = ", ".join(sorted(registry))
        raise UserError(f"{group}={name!r} is not a known {group}; valid: {valid}.")
    return registry[name]
