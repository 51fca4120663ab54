"""Poly-1 (Leng et al. 2022, "PolyLoss"): cross-entropy plus ε(1 − p_y)."""

from __future__ import annotations

from typing import Annotated, ClassVar

import torch
import torch.nn.functional as F

from lossbench import Kind, Loss, Number, logits_and_index, two_class_logits


def poly1(logits: torch.Tensor, target: torch.Tensor, epsilon: float) -> torch.Tensor:
    ce = F.cross_entropy(logits, target, reduction="none")
    p_y = torch.exp(-ce)  # the true class's probability, from the CE already computed
    return (ce + epsilon * (1 - p_y)).mean()


class Poly1(Loss):
    """CE + ε(1 − p_y): Poly-1 (Leng et al. 2022).

    The first polynomial term of cross-entropy's expansion, reweighted: ε > 0 keeps the
    gradient larger on confident examples, ε = −1 removes it. ε = 1 is the paper's default.
    """

    adapters: ClassVar = {"multiclass": logits_and_index, "binary": two_class_logits}

    def __init__(self, kind: Kind, epsilon: Annotated[float, Number(low=-1)] = 1.0) -> None:
        super().__init__(kind)
        self.epsilon = float(epsilon)

    def criterion(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return poly1(logits, target, self.epsilon)
