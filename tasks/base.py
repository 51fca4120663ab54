"""What every task hands the trainer, and the error type both rooms share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch

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


def check_data_seed(seed: object) -> None:
    """numpy and scikit-learn take seeds from 0 to 2**32 - 1 only."""
    ok = is_int(seed) and 0 <= seed < 2**32
    require(ok, "task.data_seed", seed, "an integer from 0 to 2**32 - 1")


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


@dataclass
class TaskData:
    """Train, validation and test tensors, resident on the trainer's device.

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
    # The validation split (tasks/validation.py); None when task.val_fraction=0.
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None
    # Training targets before the task corrupted them on purpose, for a clean
    # validation split (task.val_clean=true); None when nothing was corrupted.
    clean_y_train: torch.Tensor | None = None
    # The `info` key holding the realised share of corrupted training samples
    # ("label_noise", "outlier_fraction"), recomputed when the split moves samples.
    corruption: str | None = None

    def to(self, device: torch.device) -> TaskData:
        """The same data on `device`: copied once, from pinned memory when it crosses to a GPU."""
        def move(t: torch.Tensor) -> torch.Tensor:
            if device.type == "cuda":
                return t.pin_memory().to(device, non_blocking=True)
            return t.to(device)

        tensors = ("x_train", "y_train", "x_test", "y_test", "corrupted", "x_val", "y_val",
                   "clean_y_train")
        return TaskData(
            **{k: getattr(self, k) for k in self.__dataclass_fields__ if k not in tensors},
            **{k: None if getattr(self, k) is None else move(getattr(self, k)) for k in tensors},
        )
