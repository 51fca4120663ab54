"""Regression losses on the residual x = ŷ − y, averaged over samples.

The four torch criteria are distances that also read class probabilities
against one-hot targets (see base.DISTANCE); log-cosh, quantile and Barron's
loss are for regression only.
"""

from __future__ import annotations

import math
from typing import Annotated, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from lossbench.contract import Kind
from lossbench.schema import Number
from trainer.losses.base import DISTANCE, Loss, NonNegative, Positive, value_and_float

REGRESSION = {"regression": value_and_float}


def logcosh(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # log cosh x = |x| + log(1 + e^(−2|x|)) − log 2, which cosh itself would overflow for |x| > 89.
    x = (pred - target).abs()
    return (x + F.softplus(-2 * x) - math.log(2)).mean()


def pinball(pred: torch.Tensor, target: torch.Tensor, tau: float) -> torch.Tensor:
    under = target - pred  # positive when the prediction is too low
    return torch.maximum(tau * under, (tau - 1) * under).mean()


def barron(pred: torch.Tensor, target: torch.Tensor, alpha: float, scale: float) -> torch.Tensor:
    """Barron (2019), eq. 1, with its limits: 2 → L2, 0 → Cauchy, −∞ → Welsch."""
    z = ((pred - target) / scale) ** 2
    if alpha == 2:
        rho = 0.5 * z
    elif alpha == 0:
        rho = torch.log1p(0.5 * z)
    elif alpha == -math.inf:
        rho = -torch.expm1(-0.5 * z)
    else:
        b = abs(alpha - 2)
        # expm1/log1p keep α near 0 or 2 accurate, where the general form cancels.
        rho = b / alpha * torch.expm1(alpha / 2 * torch.log1p(z / b))
    return rho.mean()


class L1(Loss):
    """|x|: `nn.L1Loss`, mean absolute error.

    Robust to outliers (the median's loss); constant-size gradient, so it
    neither slows near the optimum nor is smooth at 0.
    """

    adapters: ClassVar = DISTANCE

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = nn.L1Loss()


class MSE(Loss):
    """x²: `nn.MSELoss`, mean squared error (L2).

    Smooth everywhere and the mean's loss; outliers dominate it because its
    gradient grows with the error.
    """

    adapters: ClassVar = DISTANCE

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = nn.MSELoss()


class SmoothL1(Loss):
    """0.5 x²/β for |x| < β, else |x| − 0.5 β: `nn.SmoothL1Loss`.

    Quadratic near 0, linear beyond β: smooth and robust to outliers
    (Faster R-CNN's box loss). Its gradient is at most 1 whatever β.
    """

    adapters: ClassVar = DISTANCE

    def __init__(self, kind: Kind, beta: NonNegative = 1.0) -> None:
        super().__init__(kind)
        self.criterion = nn.SmoothL1Loss(beta=float(beta))


class Huber(Loss):
    """0.5 x² for |x| < δ, else δ (|x| − 0.5 δ): `nn.HuberLoss`.

    Smooth L1 scaled by δ: half the squared error near 0, with the gradient
    capped at δ beyond it. δ is in the targets' units.
    """

    adapters: ClassVar = DISTANCE

    def __init__(self, kind: Kind, delta: Positive = 1.0) -> None:
        super().__init__(kind)
        self.criterion = nn.HuberLoss(delta=float(delta))


class LogCosh(Loss):
    """log cosh x: ≈ x²/2 for small x, ≈ |x| − log 2 for large x.

    A smooth Huber with its bend fixed near |x| = 1: gradient tanh x, bounded
    like L1's, and twice differentiable. Not scale-free: rescale the targets
    to move the bend.
    """

    adapters: ClassVar = REGRESSION

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = logcosh


class Quantile(Loss):
    """max(τ u, (τ − 1) u), u = y − ŷ: the pinball loss.

    Its minimiser is the τ-quantile, for prediction intervals; τ = 0.5 is half
    the L1 loss. Asymmetric by design, so its fit is biased for τ ≠ 0.5.
    """

    adapters: ClassVar = REGRESSION

    def __init__(self, kind: Kind,
                 tau: Annotated[float, Number(0, 1, low_open=True, high_open=True)] = 0.5) -> None:
        super().__init__(kind)
        self.tau = float(tau)

    def criterion(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return pinball(pred, target, self.tau)


class Barron(Loss):
    """|α−2|/α · [((x/c)²/|α−2| + 1)^(α/2) − 1]: Barron's general robust loss (2019).

    One knob from L2 (α = 2) through pseudo-Huber (1), Cauchy (0) and
    Geman-McClure (−2) to Welsch (−inf); α < 0 ignores gross outliers but is
    non-convex. Here α and the scale c are fixed, not learned.
    """

    adapters: ClassVar = REGRESSION

    def __init__(self, kind: Kind, alpha: Annotated[float, Number(
            -math.inf, math.inf, high_open=True, text="a number or -inf, not +inf or nan")] = 1.0,
                 scale: Positive = 1.0) -> None:
        super().__init__(kind)
        self.alpha, self.scale = float(alpha), float(scale)

    def criterion(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return barron(pred, target, self.alpha, self.scale)
