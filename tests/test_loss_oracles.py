"""Losses against well-kept libraries that compute the same thing: torchvision's
`sigmoid_focal_loss` (value and gradient), scikit-learn's `mean_pinball_loss`,
`hinge_loss`, `log_loss` and `brier_score_loss`, and `scipy.special.huber`, on ordinary
and extreme inputs. All in float64, so a difference is a formula's, not rounding's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit, huber
from sklearn import metrics as skm
from torchvision.ops import sigmoid_focal_loss

from trainer import losses

pytestmark = pytest.mark.numerics  # tests/numerics.py

RNG = np.random.default_rng(0)
# Binary logits: ordinary ones, confident right and wrong answers, and ±1e4.
Z = np.concatenate([RNG.normal(0, 2, 40), [30.0, -30.0, 1e4, -1e4, 0.0]])
Y01 = np.concatenate([RNG.integers(0, 2, 40), [1, 1, 1, 0, 1]])
# Regression residuals from 1e-3 to 1e6.
PRED = np.concatenate([RNG.normal(0, 3, 40), [1e6, -1e6, 1e-3, 0.0, 5e5]])
TARGET = np.concatenate([RNG.normal(0, 3, 40), [0.0, 0.0, 0.0, 0.0, -5e5]])
# log_loss clips probabilities at float64's epsilon: logits within ±20 stay clear of it.
MODERATE = np.abs(Z) <= 20


def ours(name: str, kind: str, scores: np.ndarray, targets: np.ndarray, **params) -> float:
    loss = losses.build({"name": name, **params}, kind)
    return loss(torch.tensor(scores), torch.tensor(targets)).item()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_binary_focal_is_torchvisions_sigmoid_focal_loss_in_value_and_gradient(gamma):
    z = torch.tensor(Z, requires_grad=True)
    theirs = sigmoid_focal_loss(z, torch.tensor(Y01, dtype=torch.float64), alpha=-1,
                                gamma=gamma, reduction="mean")
    (their_grad,) = torch.autograd.grad(theirs, z)
    loss = losses.build({"name": "focal", "gamma": gamma}, "binary")
    mine = loss(z, torch.tensor(Y01))
    (my_grad,) = torch.autograd.grad(mine, z)
    torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-12)
    # Where p_t rounds to 1, torchvision's (1 − p_t)^γ with γ < 1 has an infinite slope times
    # 0: NaN. lossbench clamps 1 − p_t at 1e-12 and stays finite; elsewhere they agree.
    assert torch.isfinite(my_grad).all()
    finite = torch.isfinite(their_grad)
    assert finite.sum() >= len(Z) - 2
    torch.testing.assert_close(my_grad[finite], their_grad[finite], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tau", [0.1, 0.5, 0.9])
def test_quantile_is_scikit_learns_pinball_loss(tau):
    expected = skm.mean_pinball_loss(TARGET, PRED, alpha=tau)
    assert ours("quantile", "regression", PRED, TARGET, tau=tau) == pytest.approx(
        expected, rel=1e-12)


def test_hinge_is_scikit_learns_hinge_loss():
    expected = skm.hinge_loss(2 * Y01 - 1, Z)
    assert ours("hinge", "binary", Z, Y01, margin=1.0) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", ["bce", "bce_logits", "soft_margin"])
def test_binary_log_losses_are_scikit_learns_log_loss(name):
    z, y = Z[MODERATE], Y01[MODERATE]
    expected = skm.log_loss(y, expit(z), labels=[0, 1])
    assert ours(name, "binary", z, y) == pytest.approx(expected, rel=1e-10)


def test_ce_is_scikit_learns_log_loss_on_softmax():
    logits = RNG.normal(0, 4, (50, 5))
    y = RNG.integers(0, 5, 50)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    for name in ("ce", "nll", "focal"):
        params = {"gamma": 0.0} if name == "focal" else {}
        assert ours(name, "multiclass", logits, y, **params) == pytest.approx(
            skm.log_loss(y, probs, labels=range(5)), rel=1e-10)


def test_mse_on_a_binary_task_is_scikit_learns_brier_score():
    expected = skm.brier_score_loss(Y01, expit(Z))
    assert ours("mse", "binary", Z, Y01) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("delta", [0.1, 1.0, 7.5])
def test_huber_and_smoothl1_are_scipys_huber(delta):
    expected = huber(delta, PRED - TARGET).mean()
    assert ours("huber", "regression", PRED, TARGET, delta=delta) == pytest.approx(
        expected, rel=1e-12)
    # Smooth L1 with β is Huber with δ = β, divided by β.
    assert ours("smoothl1", "regression", PRED, TARGET, beta=delta) == pytest.approx(
        expected / delta, rel=1e-12)
