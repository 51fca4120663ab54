"""The config keys every task has: the base of each task's schema (`Config`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from omegaconf import MISSING

from lossbench.schema import Number

# numpy and scikit-learn take seeds from 0 to 2**32 - 1 only.
Seed = Annotated[int, Number(0, 2**32 - 1)]


@dataclass
class TaskConfig:
    """The keys every task has; each task's `Config` adds its own (configs/task/<name>.yaml)."""

    name: str = MISSING
    data_seed: Seed = MISSING
    batch_size: Annotated[int, Number(low=1)] = MISSING
