"""Normalized and active-passive losses (Ma et al. 2020, "Normalized Loss Functions for
Deep Learning with Noisy Labels", ICML; code: HanxunH/Active-Passive-Losses).

p = softmax(z), y the true class, C classes. A loss normalized by its sum over
all C candidate labels, L(z, y) / Σ_k L(z, k), is robust to symmetric label noise
but underfits; APL adds an "active" loss (it raises p_y: NCE, NFL) and a
"passive" one (it lowers the other p_k: RCE, MAE) with weights α and β.

Where APL's code departs from the bare formula, these follow the code, since
they are here to reproduce its numbers: RCE's log 0 is log 1e-4 and its p_k
are floored at 1e-7; NFL's focal weights (1 − p)^γ carry no gradient; the MAE
inside NCE+MAE is 1 − p_y (half of lossbench's `mae`).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch

from lossbench.contract import Kind
from trainer.losses.base import Loss, NonNegative, logits_and_index
from trainer.losses.classification import wrong_class_mass

# APL's reverse cross-entropy clamps the one-hot target to [1e-4, 1], so log 0 reads as
# log 1e-4 ≈ −9.21 (SCE's paper uses −4: see `sce`), and the probabilities to [1e-7, 1].
RCE_LOG_ZERO = math.log(1e-4)
RCE_P_FLOOR = 1e-7


def nce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(−log p_y) / (−Σ_k log p_k) per sample: in [0, 1], never 0/0 with C >= 2."""
    log_p = logits.log_softmax(dim=1)
    return log_p.gather(1, y.unsqueeze(1)).squeeze(1) / log_p.sum(dim=1)


def rce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """−Σ_k p_k log q_k per sample, q the one-hot target: −A · Σ_{k≠y} p_k."""
    return -RCE_LOG_ZERO * wrong_class_mass(logits.softmax(dim=1).clamp_min(RCE_P_FLOOR), y)


def nfl(logits: torch.Tensor, y: torch.Tensor, gamma: float) -> torch.Tensor:
    """(1 − p_y)^γ log p_y / Σ_k (1 − p_k)^γ log p_k per sample, weights held constant."""
    log_p = logits.log_softmax(dim=1)
    # Detached as in APL's code: the gradient flows through the logs only.
    weighted = (1 - log_p.detach().exp()) ** gamma * log_p
    return weighted.gather(1, y.unsqueeze(1)).squeeze(1) / weighted.sum(dim=1)


def reduced_mae(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 − p_y per sample: APL's MAE, half of Σ_k |p_k − q_k|."""
    return 1 - logits.softmax(dim=1).gather(1, y.unsqueeze(1)).squeeze(1)


class NCE(Loss):
    """s · (−log p_y) / (−Σ_k log p_k): normalized cross-entropy (Ma et al. 2020).

    Cross-entropy divided by its sum over all labels: provably robust to
    symmetric noise, but on its own it underfits, since its gradient is small
    for every sample. The scale s (APL's MNIST config: 10) sets the step size.
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, scale: NonNegative = 10.0) -> None:
        super().__init__(kind)
        self.scale = float(scale)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.scale * nce(logits, y).mean()


# NCE, RCE and NFL share their shape on purpose: each loss's __init__ signature is its
# config schema (defaults, ranges) and its docstring its documentation (trainer/losses/base.py).
class RCE(Loss):
    """s · (−A) Σ_{k≠y} p_k, A = log 1e-4: reverse cross-entropy as APL computes it.

    The passive half of SCE on its own: it only pushes wrong-class
    probabilities down. Symmetric, so robust to label noise, and bounded, so
    slow to fit; p_k below 1e-7 count as 1e-7, as in APL's code.
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, scale: NonNegative = 1.0) -> None:
        super().__init__(kind)
        self.scale = float(scale)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.scale * rce(logits, y).mean()


class NFL(Loss):
    """s · (1 − p_y)^γ log p_y / Σ_k (1 − p_k)^γ log p_k: normalized focal loss (Ma et al. 2020).

    Focal loss divided by its sum over all labels: robust like `nce`, and as
    prone to underfit. The focal weights are constants in the gradient, as in
    APL's code (and in the focal implementation it builds on).
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, scale: NonNegative = 1.0, gamma: NonNegative = 0.5) -> None:
        super().__init__(kind)
        self.scale = float(scale)
        self.gamma = float(gamma)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.scale * nfl(logits, y, self.gamma).mean()


class NCEandRCE(Loss):
    """α · NCE + β · RCE: the active-passive pair APL recommends (Ma et al. 2020).

    NCE raises p_y, RCE lowers the rest; both are robust, and together they fit
    where each alone underfits. α = 1, β = 10 are APL's MNIST values; the
    balance between them needs tuning per data set and noise rate.
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, alpha: NonNegative = 1.0, beta: NonNegative = 10.0) -> None:
        super().__init__(kind)
        self.alpha, self.beta = float(alpha), float(beta)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.alpha * nce(logits, y) + self.beta * rce(logits, y)).mean()


class NCEandMAE(Loss):
    """α · NCE + β · (1 − p_y): normalized cross-entropy with APL's MAE (Ma et al. 2020).

    An active-passive pair like `nce_rce`, with MAE as the passive half; APL's
    MAE is 1 − p_y, half of lossbench's `mae`. α = 1, β = 10 are APL's MNIST values.
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, alpha: NonNegative = 1.0, beta: NonNegative = 10.0) -> None:
        super().__init__(kind)
        self.alpha, self.beta = float(alpha), float(beta)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.alpha * nce(logits, y) + self.beta * reduced_mae(logits, y)).mean()


class NFLandRCE(Loss):
    """α · NFL + β · RCE: normalized focal loss with reverse cross-entropy (Ma et al. 2020).

    The active-passive pair with focal weighting on the active half. α = 1,
    β = 10, γ = 0.5 are APL's MNIST values.
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, alpha: NonNegative = 1.0, beta: NonNegative = 10.0,
                 gamma: NonNegative = 0.5) -> None:
        super().__init__(kind)
        self.alpha, self.beta = float(alpha), float(beta)
        self.gamma = float(gamma)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.alpha * nfl(logits, y, self.gamma) + self.beta * rce(logits, y)).mean()
