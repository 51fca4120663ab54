"""The Loss base class and the adapters that fit raw model scores to each target kind.

A model always emits raw scores: logits for classification, values for
regression. Each loss says, per target kind, how those scores and the targets
are adapted before its criterion sees them. Binding a loss to a kind happens
once, when it is built, so the training step has no branches.

An adapter's docstring is what the README's loss table shows for that kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from lossbench.contract import Kind
from lossbench.schema import Number

Tensors = tuple[torch.Tensor, torch.Tensor]
Adapter = Callable[[torch.Tensor, torch.Tensor], Tensors]
Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _flat(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # A one-output model gives (N, 1) for targets of shape (N,).
    return out.squeeze(-1) if out.ndim == y.ndim + 1 else out


def logits_and_index(out: torch.Tensor, y: torch.Tensor) -> Tensors:
    """logits vs class index"""
    return out, y.long()


def log_softmax_and_index(out: torch.Tensor, y: torch.Tensor) -> Tensors:
    """log-softmax vs class index"""
    return out.log_softmax(dim=1), y.long()


def softmax_and_onehot(out: torch.Tensor, y: torch.Tensor) -> Tensors:
    """softmax vs one-hot"""
    probs = out.softmax(dim=1)
    return probs, F.one_hot(y.long(), out.shape[1]).to(probs.dtype)


def sigmoid_and_float(out: torch.Tensor, y: torch.Tensor) -> Tensors:
    """σ(logit) vs 0/1"""
    return torch.sigmoid(_flat(out, y)), y.to(out.dtype)


def logit_and_float(out: torch.Tensor, y: torch.Tensor) -> Tensors:
    """logit vs 0/1"""
    return _flat(out, y), y.to(out.dtype)


def logit_and_sign(out: torch.Tensor, y: torch.Tensor) -> Tensors:
    """logit vs ±1"""
    return _flat(out, y), 2 * y.to(out.dtype) - 1


def two_class_logits(out: torch.Tensor, y: torch.Tensor) -> Tensors:
    """logits [0, z] vs class index"""
    # softmax([0, z]) = [1 − σ(z), σ(z)]: a binary logit read as two classes.
    z = _flat(out, y)
    return torch.stack([torch.zeros_like(z), z], dim=1), y.long()


def value_and_float(out: torch.Tensor, y: torch.Tensor) -> Tensors:
    """value vs target"""
    # Float targets whatever the user typed: the tutorial's Smooth L1 example passes int64.
    return _flat(out, y), y.to(out.dtype)


# How the distance losses read each kind: class probabilities against one-hot
# targets, the positive-class probability against 0/1, values against values.
DISTANCE: dict[Kind, Adapter] = {
    "multiclass": softmax_and_onehot,
    "binary": sigmoid_and_float,
    "regression": value_and_float,
}


class Loss(nn.Module):
    """A criterion and, per accepted target kind, how its inputs are adapted.

    A subclass's docstring starts with its formula on one line; the paragraph
    after it says what the loss is good and bad at. Both go into the README.
    """

    adapters: ClassVar[dict[Kind, Adapter]]
    criterion: Criterion

    def __init__(self, kind: Kind) -> None:
        super().__init__()
        self.adapt = self.adapters[kind]

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.criterion(*self.adapt(output, target))


# A loss's keyword arguments are its config keys (configs/loss/<name>.yaml): each one's
# annotation is its schema, the type and the values allowed, checked before it is built.
NonNegative = Annotated[float, Number(low=0)]
Positive = Annotated[float, Number(low=0, low_open=True)]
Finite = Annotated[float, Number()]
