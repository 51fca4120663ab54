"""Classification losses: p = softmax(z) of the logits z, y the true class, C classes.

Torch criteria where torch has one; the noise-robust family (Ghosh et al. 2017,
Zhang & Sabuncu 2018, Wang et al. 2019) and focal loss as small functions.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from lossbench.contract import Kind
from lossbench.schema import Number
from trainer.losses.base import (
    Finite,
    Loss,
    NonNegative,
    log_softmax_and_index,
    logit_and_float,
    logit_and_sign,
    logits_and_index,
    sigmoid_and_float,
    softmax_and_onehot,
    two_class_logits,
)

# SCE's reverse term needs log 0 for the one-hot target's zeros: Wang et al. clamp it to A = −4.
LOG_ZERO = -4.0


def log_p_true(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log p_y per sample, from log-softmax so that it never takes the log of 0."""
    return logits.log_softmax(dim=1).gather(1, y.unsqueeze(1)).squeeze(1)


def focal(logits: torch.Tensor, y: torch.Tensor, gamma: float) -> torch.Tensor:
    log_p = log_p_true(logits, y)
    # Clamped so that (1 − p)^γ keeps a finite gradient when p rounds to 1 and γ < 1.
    weight = (1 - log_p.exp()).clamp_min(1e-12) ** gamma if gamma else 1.0
    return (-weight * log_p).mean()


def summed_absolute_error(probs: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    return (probs - onehot).abs().sum(dim=1).mean()


def gce(logits: torch.Tensor, y: torch.Tensor, q: float) -> torch.Tensor:
    # p_y^q = exp(q log p_y): stable for tiny p_y.
    return ((1 - torch.exp(q * log_p_true(logits, y))) / q).mean()


def sce(logits: torch.Tensor, y: torch.Tensor, alpha: float, beta: float,
        log_zero: float = LOG_ZERO) -> torch.Tensor:
    log_p = log_p_true(logits, y)
    # −Σ_c p_c log q_c with log 1 = 0 and log 0 = A: only the wrong classes count.
    reverse = -log_zero * (1 - log_p.exp())
    return (alpha * -log_p + beta * reverse).mean()


def hinge(logits: torch.Tensor, sign: torch.Tensor, margin: float) -> torch.Tensor:
    return F.relu(margin - sign * logits).mean()


class CrossEntropy(Loss):
    """−log p_y; with label smoothing ε the target is (1 − ε)·one-hot + ε/C.

    The default: fast to train, and minimised by the true class probabilities.
    It fits wrong labels too, so under label noise test accuracy peaks early,
    then falls. Label smoothing curbs over-confidence.
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, label_smoothing: Annotated[float, Number(0, 1)] = 0.0) -> None:
        super().__init__(kind)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=float(label_smoothing))


class NLL(Loss):
    """−log p_y: log-softmax, then `nn.NLLLoss`; the same value as `ce` in two steps.

    The classic PyTorch pairing for models that end in `log_softmax`; here to
    show that it equals `ce`, which does both steps in one call.
    """

    adapters: ClassVar = {"multiclass": log_softmax_and_index}

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = nn.NLLLoss()


class Focal(Loss):
    """−(1 − p_y)^γ log p_y (Lin et al. 2017); binary reads the logit as two classes.

    Down-weights examples already classified well, so training dwells on hard
    ones: for class imbalance and many easy negatives. γ = 0 is `ce`.
    """

    adapters: ClassVar = {"multiclass": logits_and_index, "binary": two_class_logits}

    def __init__(self, kind: Kind, gamma: NonNegative = 2.0) -> None:
        super().__init__(kind)
        self.gamma = float(gamma)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return focal(logits, y, self.gamma)


class MAE(Loss):
    """Σ_c |p_c − 1[c = y]| = 2 (1 − p_y): MAE on softmax (Ghosh et al. 2017).

    Bounded and symmetric, so provably robust to symmetric label noise; but its
    gradient vanishes on examples it gets badly wrong, so it trains slowly and
    underfits with many classes.
    """

    adapters: ClassVar = {"multiclass": softmax_and_onehot}

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = summed_absolute_error


class GCE(Loss):
    """(1 − p_y^q) / q: generalized cross-entropy (Zhang & Sabuncu 2018).

    Between CE (q → 0) and MAE (q = 1 gives 1 − p_y, half of `mae`): trains
    faster than `mae` and resists label noise better than `ce`; q = 0.7 is the
    paper's choice.
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, q: Annotated[float, Number(0, 1, low_open=True)] = 0.7) -> None:
        super().__init__(kind)
        self.q = float(q)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return gce(logits, y, self.q)


class SCE(Loss):
    """α·(−log p_y) + β·(−A)(1 − p_y), A = log_zero: symmetric cross-entropy (Wang et al. 2019).

    CE for fast fitting plus reverse CE −Σ_c p_c log q_c, with log 0 in the
    one-hot target q clamped to A; the reverse term is robust to label noise.
    Two weights to tune; α = 0.1, β = 1 are the paper's CIFAR-10 values and
    A = −4 its clamp (APL's code clamps at log 1e-4 ≈ −9.21 instead).
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, alpha: NonNegative = 0.1, beta: NonNegative = 1.0,
                 log_zero: Annotated[float, Number(high=0, high_open=True)] = LOG_ZERO) -> None:
        super().__init__(kind)
        self.alpha, self.beta, self.log_zero = float(alpha), float(beta), float(log_zero)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return sce(logits, y, self.alpha, self.beta, self.log_zero)


class MultiMargin(Loss):
    """Σ_{c≠y} max(0, margin − z_y + z_c)^p / C: `nn.MultiMarginLoss`.

    The multiclass SVM hinge (Weston & Watkins): zero once the true logit
    leads every other by the margin. No push towards probabilities, so its
    scores are not calibrated.
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, p: Annotated[int, Number(1, 2)] = 1,
                 margin: Finite = 1.0) -> None:
        super().__init__(kind)
        self.criterion = nn.MultiMarginLoss(p=p, margin=float(margin))


class BCE(Loss):
    """−[y log σ(z) + (1 − y) log(1 − σ(z))]: sigmoid, then `nn.BCELoss`.

    The tutorial's binary loss. Once σ(z) rounds to 0 or 1, a confident
    mistake costs a flat 100 (torch clamps the log) and gives no gradient;
    `bce_logits` has neither problem.
    """

    adapters: ClassVar = {"binary": sigmoid_and_float}

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = nn.BCELoss()


class BCEWithLogits(Loss):
    """The same as `bce`, computed from the logit in one numerically stable step.

    What to use for binary targets in practice.
    """

    adapters: ClassVar = {"binary": logit_and_float}

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = nn.BCEWithLogitsLoss()


class Hinge(Loss):
    """max(0, margin − t·z), t = ±1: the SVM hinge.

    Stops caring once an example is beyond the margin; sparse gradients and no
    probabilities.
    """

    adapters: ClassVar = {"binary": logit_and_sign}

    def __init__(self, kind: Kind, margin: Finite = 1.0) -> None:
        super().__init__(kind)
        self.margin = float(margin)

    def criterion(self, logits: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
        return hinge(logits, sign, self.margin)


class SoftMargin(Loss):
    """log(1 + exp(−t·z)), t = ±1: `nn.SoftMarginLoss`, the logistic loss.

    A smooth hinge; the same value as `bce_logits` with labels written ±1.
    """

    adapters: ClassVar = {"binary": logit_and_sign}

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.criterion = nn.SoftMarginLoss()
