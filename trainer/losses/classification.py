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
# A floor under probabilities, as APL's code clamps them: below 1 (0 is no floor).
Probability = Annotated[float, Number(0, 1, high_open=True)]


def log_p_true(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log p_y per sample, from log-softmax so that it never takes the log of 0."""
    return logits.log_softmax(dim=1).gather(1, y.unsqueeze(1)).squeeze(1)


def wrong_class_mass(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Σ_{k≠y} p_k per sample, summed directly: 1 − p_y (or Σp − p_y) would lose most of
    its digits in float32 when p_y is close to 1 (1.4% of a 1e-4 value)."""
    classes = torch.arange(p.shape[1], device=p.device)
    return torch.where(classes == y.unsqueeze(1), 0.0, p).sum(dim=1)


def focal(logits: torch.Tensor, y: torch.Tensor, gamma: float,
          detach_weight: bool = False) -> torch.Tensor:
    log_p = log_p_true(logits, y)
    if detach_weight:  # APL's FocalLoss: the weight from detached probabilities, unclamped
        weight = (1 - log_p.detach().exp()) ** gamma
    else:  # clamped so that (1 − p)^γ keeps a finite gradient when p rounds to 1 and γ < 1
        weight = (1 - log_p.exp()).clamp_min(1e-12) ** gamma if gamma else 1.0
    return (-weight * log_p).mean()


def summed_absolute_error(probs: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    return (probs - onehot).abs().sum(dim=1).mean()


def gce(logits: torch.Tensor, y: torch.Tensor, q: float, p_floor: float = 0.0) -> torch.Tensor:
    if p_floor:  # APL's GeneralizedCrossEntropy: p clamped to [floor, 1], then raised to q
        return ((1 - log_p_true(logits, y).exp().clamp_min(p_floor) ** q) / q).mean()
    # p_y^q = exp(q log p_y): stable for tiny p_y.
    return ((1 - torch.exp(q * log_p_true(logits, y))) / q).mean()


def sce(logits: torch.Tensor, y: torch.Tensor, alpha: float, beta: float,
        log_zero: float = LOG_ZERO, p_floor: float = 0.0) -> torch.Tensor:
    log_p = logits.log_softmax(dim=1)
    p = log_p.exp()
    if p_floor:  # APL's SCELoss floors every p_k at 1e-7 in the reverse term
        p = p.clamp_min(p_floor)
    # −Σ_c p_c log q_c with log 1 = 0 and log 0 = A: only the wrong classes count.
    reverse = -log_zero * wrong_class_mass(p, y)
    return (alpha * -log_p.gather(1, y.unsqueeze(1)).squeeze(1) + beta * reverse).mean()


def hinge(logits: torch.Tensor, sign: torch.Tensor, margin: float) -> torch.Tensor:
    return F.relu(margin - sign * logits).mean()


class CrossEntropy(Loss):
    """−log p_y; with label smoothing ε the target is (1 − ε)·one-hot + ε/C.

    The default: fast to train, and minimised by the true class probabilities.
    It fits wrong labels too, so under label noise test accuracy peaks early,
    then falls. Label smoothing curbs over-confidence. On binary targets the
    logit z is read as the two classes [0, z], which is `bce_logits` exactly.
    """

    adapters: ClassVar = {"multiclass": logits_and_index, "binary": two_class_logits}

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
    ones: for class imbalance and many easy negatives. γ = 0 is `ce`. With
    `detach_weight` the weight (1 − p_y)^γ is a constant in the gradient, as in
    APL's code (`apl_loss=focal`); the values agree, the gradients do not.
    """

    adapters: ClassVar = {"multiclass": logits_and_index, "binary": two_class_logits}

    def __init__(self, kind: Kind, gamma: NonNegative = 2.0, detach_weight: bool = False
                 ) -> None:
        super().__init__(kind)
        self.gamma, self.detach_weight = float(gamma), bool(detach_weight)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return focal(logits, y, self.gamma, self.detach_weight)


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
    paper's choice. `p_floor` clamps p_y from below first (no gradient there),
    as APL's code does at 1e-7 (`apl_loss=gce`); 0 is the paper's formula.
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, q: Annotated[float, Number(0, 1, low_open=True)] = 0.7,
                 p_floor: Probability = 0.0) -> None:
        super().__init__(kind)
        self.q, self.p_floor = float(q), float(p_floor)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return gce(logits, y, self.q, self.p_floor)


class SCE(Loss):
    """α·(−log p_y) + β·(−A)(1 − p_y), A = log_zero: symmetric cross-entropy (Wang et al. 2019).

    CE for fast fitting plus reverse CE −Σ_c p_c log q_c, with log 0 in the
    one-hot target q clamped to A; the reverse term is robust to label noise.
    Two weights to tune; α = 0.1, β = 1 are the paper's CIFAR-10 values and
    A = −4 its clamp. APL's code (`apl_loss=sce`) clamps at log 1e-4 ≈ −9.21 and
    floors each p_k of the reverse term at `p_floor` = 1e-7; 0 is no floor.
    """

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind, alpha: NonNegative = 0.1, beta: NonNegative = 1.0,
                 log_zero: Annotated[float, Number(high=0, high_open=True)] = LOG_ZERO,
                 p_floor: Probability = 0.0) -> None:
        super().__init__(kind)
        self.alpha, self.beta, self.log_zero = float(alpha), float(beta), float(log_zero)
        self.p_floor = float(p_floor)

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return sce(logits, y, self.alpha, self.beta, self.log_zero, self.p_floor)


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
        self.criterion = soft_margin


def soft_margin(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # nn.SoftMarginLoss computes log(1 + exp(−t·z)) as written: exp overflows once −t·z
    # passes 88 in float32 (inf for a logit of −100 on a positive), so a run would stop as
    # diverged on a loss that is only large. softplus is the same function, computed stably.
    return F.softplus(-t * z).mean()
