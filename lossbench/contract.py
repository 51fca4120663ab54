"""The task contract: what a task declares (`Task`) and what it hands the trainer (`TaskData`).

The trainer reads only these: it never names a task, and a task never
imports the trainer. Shaped after algorithmic-efficiency's `spec.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch

Kind = Literal["multiclass", "binary", "regression"]
KINDS: tuple[Kind, ...] = ("multiclass", "binary", "regression")


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
    # Regression targets were divided by this (task=table standardises them): metrics are
    # scaled back by it, so mse and mae are in the targets' own units (the loss is not).
    target_scale: float = 1.0

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


class Task(Protocol):
    """One task: a module (or object) named in the task registry, `tasks.TASKS`.

    `cfg` is the task's config group (configs/task/<name>.yaml) and `Config`
    its schema (lossbench/schema.py): each key's type and allowed values.
    `check` raises UserError for what a schema cannot say (keys bounded by
    each other) before any data is read; `build` returns the data on the CPU.
    """

    KIND: Kind | None  # None: known from the config only (`resolved`, as task=table)
    N_OUTPUTS: int
    METRICS: tuple[str, ...]  # names in lossbench.metrics; reported as test/<name> and
    #                           val/<name>; the first is the task's main metric
    Config: type  # a dataclass; tasks.get adds the label-noise and validation-split keys

    def check(self, cfg: Any) -> None: ...

    # Optional, for a task whose KIND is None: `resolved(cfg) -> Task`, the task this config
    # describes (tasks.get(name, cfg) calls it); UserError for data it cannot use.

    def build(self, cfg: Any) -> TaskData: ...
