"""What every task hands the trainer, and the error type both rooms share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

import torch
from omegaconf import MISSING

from lossbench.schema import Number

Kind = Literal["multiclass", "binary", "regression"]
KINDS: tuple[Kind, ...] = ("multiclass", "binary", "regression")


class UserError(Exception):
    """A mistake in the user's input: reported as one line, never as a traceback."""


class Misfit(UserError):
    """The task, loss and model cannot be trained together: `skipped` in a sweep."""


def require(ok: bool, key: str, value: object, allowed: str) -> None:
    """Fail with the one-line message format every check in the project uses."""
    if not ok:
        raise UserError(f"{key}={value!r} is not valid: {allowed}.")


def is_number(value: object) -> bool:
    """An int or float from a config; YAML's true/false are bools, which Python counts as ints."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: object) -> bool:
    """An int from a config, and not YAML's true/false."""
    return isinstance(value, int) and not isinstance(value, bool)


# numpy and scikit-learn take seeds from 0 to 2**32 - 1 only.
Seed = Annotated[int, Number(0, 2**32 - 1)]


@dataclass
class TaskConfig:
    """The keys every task has; each task module's `Config` adds its own (configs/task/)."""

    name: str = MISSING
    data_seed: Seed = MISSING
    batch_size: Annotated[int, Number(low=1)] = MISSING


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


@dataclass
class TaskData:
    """Train and test tensors, resident on the trainer's device.

    `prepare` turns a stored batch (uint8 images, say) into model input on the
    device, so datasets stay compact and conversion happens once per batch.
    `corrupted` marks the training samples the task damaged on purpose
    (outliers, flipped labels) so diagnostics can tell them apart without
    knowing the task.
    """

    kind: Kind
    n_outputs: int
    input_shape: tuple[int, ...]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    corrupted: torch.Tensor
    prepare: Callable[[torch.Tensor], torch.Tensor] = identity
    info: dict[str, float] = field(default_factory=dict)

    def to(self, device: torch.device) -> TaskData:
        """The same data on `device`: copied once, from pinned memory when it crosses to a GPU."""
        def move(t: torch.Tensor) -> torch.Tensor:
            if device.type == "cuda":
                return t.pin_memory().to(device, non_blocking=True)
            return t.to(device)

        tensors = ("x_train", "y_train", "x_test", "y_test", "corrupted")
        return TaskData(
            **{k: getattr(self, k) for k in self.__dataclass_fields__ if k not in tensors},
            **{k: move(getattr(self, k)) for k in tensors},
        )
