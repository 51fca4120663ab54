"""A member of the engine's population (a single run is the one member of its own), and
what every member of one population must share."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from lossbench.status import RunStatus
from trainer import rng, schedulers

if TYPE_CHECKING:
    from trainer.run import Job

SHARED = ("x_train", "x_test", "y_test", "x_val")  # one copy serves every member


@dataclass
class Outcome:
    status: RunStatus  # OK or DIVERGED
    reason: str | None = None


@dataclass
class Member:
    """One run of the population: its built job and what the loop holds for it."""

    job: Job
    logs: Callable[[], AbstractContextManager] = nullcontext  # routes its log lines
    rng: dict[str, Any] = field(default_factory=rng.capture)  # create right after setup
    order: torch.Generator | None = None  # its batch order, seeded by its seed
    schedule: schedulers.Schedule | None = None
    record: dict[str, Any] | None = None  # its metrics.json record once it ended well
    error: BaseException | None = None  # what ended it otherwise

    @property
    def parts(self) -> Any:  # trainer.assemble.Parts
        return self.job.parts


def steps_per_epoch(n_train: int, cfg: Any) -> int:
    steps = math.ceil(n_train / cfg.batch_size)
    return min(steps, cfg.limit_train_batches) if cfg.limit_train_batches else steps


def same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is b
    return a is b or (a.shape == b.shape and a.dtype == b.dtype and a.device == b.device
                      and bool(a.eq(b).all()))
