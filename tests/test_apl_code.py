"""`apl_loss=focal`, `sce` and `gce` against APL's loss code (HanxunH/Active-Passive-Losses,
loss.py), value and gradient, in float64 and float32, extreme logits included; and the
wrong-class mass of `rce` and its pairs, which float32 must not lose when p_y is near 1.

The references below follow loss.py's operations one for one (softmax, then clamp, then
the one-hot sum), not lossbench's functions, so they disagree wherever the two differ.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import compose_cfg

from trainer import losses

pytestmark = pytest.mark.numerics  # tests/numerics.py

C = 10
# Ordinary logits, a confident right answer (p_y rounds to 1 in float32), a confident
# wrong one (p_y below APL's 1e-7 floor), and logits of ±1e4.
LOGITS = [[0.3, -1.2, 2.0, 0.0, 0.5, -0.7, 1.1, -2.0, 0.9, 0.1],
          [40.0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
          [0, 0, 0, 25.0, 0, 0, 0, 0, 0, 0],
          [1e4, -1e4, 0, 0, 0, 0, 0, 0, 0, 0],
          [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]]
LABELS = [2, 0, 1, 0, 9]
TOLERANCE = {torch.float64: {"rtol": 1e-10, "atol": 1e-12},
             # A dozen float32 operations, each within an ulp: about 1e-6 relative; the
             # absolute floor covers gradients of 1e-8 that round to 0 on one side.
             torch.float32: {"rtol": 1e-5, "atol": 1e-7}}


def apl_focal(pred: torch.Tensor, labels: torch.Tensor, gamma: float) -> torch.Tensor:
    """APL's FocalLoss (alpha None, size_average): the weight from detached probabilities."""
    logpt = F.log_softmax(pred, dim=1).gather(1, labels.view(-1, 1)).view(-1)
    pt = logpt.detach().exp()
    return (-1 * (1 - pt) ** gamma * logpt).mean()


def apl_sce(pred: torch.Tensor, labels: torch.Tensor, alpha: float, beta: float
            ) -> torch.Tensor:
    """APL's SCELoss: CE plus the reverse term with p and the one-hot target clamped."""
    ce = F.cross_entropy(pred, labels)
    p = torch.clamp(F.softmax(pred, dim=1), min=1e-7, max=1.0)
    one_hot = torch.clamp(F.one_hot(labels, C).to(pred.dtype), min=1e-4, max=1.0)
    rce = -1 * torch.sum(p * torch.log(one_hot), dim=1)
    return alpha * ce + beta * rce.mean()


def apl_gce(pred: torch.Tensor, labels: torch.Tensor, q: float) -> torch.Tensor:
    """APL's GeneralizedCrossEntropy: p clamped at 1e-7, then p_y^q."""
    p = torch.clamp(F.softmax(pred, dim=1), min=1e-7, max=1.0)
    one_hot = F.one_hot(labels, C).to(pred.dtype)
    return ((1.0 - torch.pow(torch.sum(one_hot * p, dim=1), q)) / q).mean()


def apl_loss(name: str) -> torch.nn.Module:
    """The loss `experiment=apl_mnist apl_loss=<name>` trains with."""
    cfg = compose_cfg("experiment=apl_mnist", f"apl_loss={name}")
    return losses.build(dict(cfg.loss), "multiclass")


def value_and_grad(fn, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.tensor(LOGITS, dtype=dtype, requires_grad=True)
    loss = fn(z, torch.tensor(LABELS))
    loss.backward()
    return loss.detach(), z.grad


REFERENCES = {"focal": lambda z, y: apl_focal(z, y, gamma=0.5),
              "sce": lambda z, y: apl_sce(z, y, alpha=0.01, beta=1.0),
              "gce": lambda z, y: apl_gce(z, y, q=0.7)}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(REFERENCES))
def test_the_apl_variant_is_apls_code_in_value_and_gradient(name, dtype):
    ours, theirs = value_and_grad(apl_loss(name), dtype), value_and_grad(REFERENCES[name], dtype)
    assert torch.isfinite(ours[0]) and torch.isfinite(ours[1]).all()
    torch.testing.assert_close(ours[0], theirs[0], **TOLERANCE[dtype])
    torch.testing.assert_close(ours[1], theirs[1], **TOLERANCE[dtype])


@pytest.mark.parametrize("name", list(REFERENCES))
def test_the_plain_loss_keeps_the_papers_formula(name):
    """Without APL's switches the value or the gradient differs from APL's code, by more
    than the tolerance the variants meet (focal and gce: the gradient; sce: the value)."""
    params = {"focal": {"gamma": 0.5}, "sce": {"alpha": 0.01, "beta": 1.0,
                                               "log_zero": math.log(1e-4)},
              "gce": {"q": 0.7}}[name]
    plain = losses.build({"name": name, **params}, "multiclass")
    ours, theirs = value_and_grad(plain, torch.float64), value_and_grad(REFERENCES[name],
                                                                        torch.float64)
    tight = TOLERANCE[torch.float64]
    assert not all(torch.allclose(a, b, **tight) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("name", ["rce", "nce_rce", "nfl_rce", "sce"])
def test_the_wrong_class_mass_survives_float32_when_p_y_is_near_one(name):
    """p_y = 1 − 1e-6 over ten classes: each wrong p_k ≈ 1.1e-7, above APL's floor."""
    z64 = torch.zeros(4, C, dtype=torch.float64)
    z64[torch.arange(4), torch.tensor([0, 3, 5, 9])] = math.log(9 * (1 - 1e-6) / 1e-6)
    y = torch.tensor([0, 3, 5, 9])
    loss = losses.build({"name": name, **({"alpha": 0.0} if name == "sce" else {})},
                        "multiclass")
    exact, single = loss(z64, y).item(), loss(z64.float(), y).item()
    # Σp − p_y in float32 loses about 1e-2 of this value; summed directly, a few ulp.
    assert single == pytest.approx(exact, rel=1e-5)
