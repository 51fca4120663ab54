"""Every loss, named once in LOSSES, with the target kinds it accepts.

A model always emits raw scores: logits for classification, values for
regression. Each loss says, per target kind, how those scores and the targets
are adapted before the torch criterion sees them. Binding a loss to a kind
happens once, when it is built, so the training step has no branches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from tasks import Kind, UserError, require

Adapter = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def logits_and_index(out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return out, y.long()


def softmax_and_onehot(out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    probs = out.softmax(dim=1)
    return probs, F.one_hot(y.long(), out.shape[1]).to(probs.dtype)


def _flat(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # A one-output model gives (N, 1) for targets of shape (N,).
    return out.squeeze(-1) if out.ndim == y.ndim + 1 else out


def sigmoid_and_float(out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.sigmoid(_flat(out, y)), y.to(out.dtype)


def logit_and_float(out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _flat(out, y), y.to(out.dtype)


# Float targets whatever the user typed: the tutorial's Smooth L1 example passes int64.
value_and_float = logit_and_float

# How the distance losses read each kind: class probabilities against one-hot
# targets, the positive-class probability against 0/1, values against values.
DISTANCE: dict[Kind, Adapter] = {
    "multiclass": softmax_and_onehot,
    "binary": sigmoid_and_float,
    "regression": value_and_float,
}


class Loss(nn.Module):
    """A torch criterion and, per accepted target kind, how its inputs are adapted."""

    adapters: ClassVar[dict[Kind, Adapter]]
    criterion: nn.Module

    def __init__(self, kind: Kind) -> None:
        super().__init__()
        self.kind = kind
        self.adapt = self.adapters[kind]

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.criterion(*self.adapt(output, target))


class CrossEntropy(Loss):
    """−log softmax(z)_y, with optional label smoothing; takes raw logits."""

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, label_smoothing: float = 0.0) -> None:
        super().__init__(kind)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)


class BCE(Loss):
    """−[y log σ(z) + (1−y) log(1−σ(z))], sigmoid first as in the tutorial."""

    adapters: ClassVar = {"binary": sigmoid_and_float}

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = nn.BCELoss()


class BCEWithLogits(Loss):
    """The same as bce computed from logits in one numerically stable step."""

    adapters: ClassVar = {"binary": logit_and_float}

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = nn.BCEWithLogitsLoss()


class L1(Loss):
    """mean |ŷ − y| (MAE): constant-size gradient, robust to outliers."""

    adapters: ClassVar = DISTANCE

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = nn.L1Loss()


class MSE(Loss):
    """mean (ŷ − y)² (L2): smooth, but gradients grow with the error."""

    adapters: ClassVar = DISTANCE

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = nn.MSELoss()


class SmoothL1(Loss):
    """0.5 x²/β for |x| < β, else |x| − 0.5 β (x = ŷ − y)."""

    adapters: ClassVar = DISTANCE

    def __init__(self, kind: Kind, beta: float = 1.0) -> None:
        super().__init__(kind)
        require(beta >= 0, "loss.beta", beta, "a number >= 0")
        self.criterion = nn.SmoothL1Loss(beta=beta)


class Huber(Loss):
    """0.5 x² for |x| < δ, else δ (|x| − 0.5 δ): Smooth L1 scaled by δ."""

    adapters: ClassVar = DISTANCE

    def __init__(self, kind: Kind, delta: float = 1.0) -> None:
        super().__init__(kind)
        require(delta > 0, "loss.delta", delta, "a number > 0")
        self.criterion = nn.HuberLoss(delta=delta)


LOSSES: dict[str, type[Loss]] = {
    "ce": CrossEntropy,
    "bce": BCE,
    "bce_logits": BCEWithLogits,
    "l1": L1,
    "mse": MSE,
    "smoothl1": SmoothL1,
    "huber": Huber,
}


def valid_for(kind: Kind) -> list[str]:
    return sorted(name for name, cls in LOSSES.items() if kind in cls.adapters)


def accepts(name: str, kind: Kind) -> bool:
    return kind in lookup(name).adapters


def lookup(name: str) -> type[Loss]:
    if name not in LOSSES:
        raise UserError(f"loss={name!r} is not a loss; valid: {', '.join(sorted(LOSSES))}.")
    return LOSSES[name]


def build(cfg: dict, kind: Kind) -> Loss:
    """`cfg` is the loss config: its `name` and the criterion's parameters."""
    params = {k: v for k, v in cfg.items() if k != "name"}
    try:
        return lookup(cfg["name"])(kind, **params)
    except TypeError as err:  # a parameter this loss does not take
        raise UserError(f"loss={cfg['name']} does not take {sorted(params)}: {err}.") from None
