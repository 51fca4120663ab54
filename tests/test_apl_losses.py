"""The APL losses (Ma et al. 2020) against sums worked out by hand in numpy.

Every reference below is written from the paper's definitions with explicit
loops over classes, never with the functions under test: softmax by hand,
logs by hand, and APL's code's clamps (log 0 read as log 1e-4, p floored at
1e-7) written out where they apply.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lossbench.errors import UserError
from trainer import losses

pytestmark = pytest.mark.numerics  # tests/numerics.py

Z = np.array([[2.0, 0.5, -1.0, 0.0], [0.1, 0.2, 3.0, -0.4], [-0.5, 1.5, 0.0, 0.3]])
Y = np.array([0, 1, 3])
N, C = Z.shape
P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
A = math.log(1e-4)  # APL's log 0


def value(name: str, z: np.ndarray = Z, y: np.ndarray = Y, **params) -> float:
    loss = losses.build({"name": name, **params}, "multiclass")
    return loss(torch.tensor(z), torch.tensor(y)).item()


def nce_by_hand(i: int) -> float:
    return -math.log(P[i, Y[i]]) / sum(-math.log(P[i, k]) for k in range(C))


def rce_by_hand(i: int, p: np.ndarray = P) -> float:
    # −Σ_k p_k log q_k with q the one-hot label: log 1 = 0 for k = y, log 0 → A otherwise.
    return -sum(max(p[i, k], 1e-7) * (0.0 if k == Y[i] else A) for k in range(C))


def nfl_by_hand(i: int, gamma: float) -> float:
    def focal(k: int) -> float:
        return -((1 - P[i, k]) ** gamma) * math.log(P[i, k])

    return focal(Y[i]) / sum(focal(k) for k in range(C))


def mean(f) -> float:
    return sum(f(i) for i in range(N)) / N


def test_nce_is_ce_over_its_sum_over_all_labels():
    assert value("nce", scale=1.0) == pytest.approx(mean(nce_by_hand))
    assert value("nce") == pytest.approx(10 * mean(nce_by_hand))  # APL's MNIST scale


def test_nce_of_a_uniform_prediction_is_one_over_c():
    assert value("nce", z=np.zeros((3, 4)), scale=1.0) == pytest.approx(1 / 4)


def test_rce_sums_the_wrong_class_probabilities_times_minus_log_1e_4():
    assert value("rce") == pytest.approx(mean(rce_by_hand))
    assert value("rce") == pytest.approx(-A * (1 - P[range(N), Y]).mean())
    assert value("rce", scale=3.0) == pytest.approx(3 * mean(rce_by_hand))


def test_rce_floors_tiny_probabilities_at_1e_minus_7():
    z = np.array([[40.0, 0.0, 0.0, 0.0]])  # p_k ≈ 4e-18 for k ≠ 0
    y = np.array([0])
    assert value("rce", z=z, y=y) == pytest.approx(-A * 3 * 1e-7)


def test_nfl_is_focal_over_its_sum_over_all_labels():
    assert value("nfl") == pytest.approx(mean(lambda i: nfl_by_hand(i, 0.5)))
    assert value("nfl", gamma=2.0, scale=2.0) == pytest.approx(
        2 * mean(lambda i: nfl_by_hand(i, 2.0)))


def test_nfl_with_gamma_zero_is_nce():
    assert value("nfl", gamma=0.0) == pytest.approx(value("nce", scale=1.0))


def test_nfl_gradient_treats_the_focal_weights_as_constants():
    # With w_k = (1 − p_k)^γ held fixed, f = w_y ℓ_y / Σ_k w_k ℓ_k, ℓ_k = log p_k, and
    # ∂ℓ_k/∂z_j = [k = j] − p_j, so ∂f/∂z_j = (w_y([y = j] − p_j) b − a (w_j − p_j Σ_k w_k)) / b².
    gamma = 0.5
    expected = np.zeros_like(Z)
    for i in range(N):
        w = (1 - P[i]) ** gamma
        ell = np.log(P[i])
        a, b = w[Y[i]] * ell[Y[i]], (w * ell).sum()
        for j in range(C):
            da = w[Y[i]] * ((Y[i] == j) - P[i, j])
            db = w[j] - P[i, j] * w.sum()
            expected[i, j] = (da * b - a * db) / b**2 / N
    z = torch.tensor(Z, requires_grad=True)
    losses.build({"name": "nfl", "gamma": gamma}, "multiclass")(z, torch.tensor(Y)).backward()
    np.testing.assert_allclose(z.grad.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize(("name", "active", "passive"), [
    ("nce_rce", nce_by_hand, rce_by_hand),
    ("nce_mae", nce_by_hand, lambda i: 1 - P[i, Y[i]]),  # APL's MAE: 1 − p_y
    ("nfl_rce", lambda i: nfl_by_hand(i, 0.5), rce_by_hand),
])
def test_active_passive_pairs_weigh_their_halves(name, active, passive):
    assert value(name) == pytest.approx(1.0 * mean(active) + 10.0 * mean(passive))
    assert value(name, alpha=2.0, beta=0.5) == pytest.approx(
        2.0 * mean(active) + 0.5 * mean(passive))
    assert value(name, alpha=0.0, beta=1.0) == pytest.approx(mean(passive))


def test_sce_takes_apl_log_zero():
    ce = mean(lambda i: -math.log(P[i, Y[i]]))
    assert value("sce", alpha=0.01, beta=1.0, log_zero=A) == pytest.approx(
        0.01 * ce + mean(lambda i: -A * (1 - P[i, Y[i]])))
    assert value("sce", alpha=0.0, beta=1.0) == pytest.approx(4 * (1 - P[range(N), Y]).mean())


@pytest.mark.parametrize("name", ["nce", "rce", "nfl", "nce_rce", "nce_mae", "nfl_rce"])
def test_gradients_stay_finite_on_confident_logits(name):
    z = torch.tensor([[80.0, 0.0, -80.0], [-60.0, 60.0, 0.0]], requires_grad=True)
    loss = losses.build({"name": name}, "multiclass")(z, torch.tensor([2, 1]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


@pytest.mark.parametrize(("params", "message"), [
    ({"name": "nce", "scale": -1.0}, r"loss.scale=-1.0 is not valid: a finite number >= 0"),
    ({"name": "nfl_rce", "gamma": -0.5}, r"loss.gamma=-0.5 is not valid"),
    ({"name": "nce_rce", "beta": "x"}, r"loss.beta='x' is not valid"),
    ({"name": "sce", "log_zero": 1.0}, r"loss.log_zero=1.0 is not valid: a finite number < 0"),
    ({"name": "rce", "alpha": 1.0}, r"loss.alpha is not a parameter of loss=rce"),
])
def test_bad_parameters_are_one_line_errors(params, message):
    with pytest.raises(UserError, match=message):
        losses.check(params)


@pytest.mark.parametrize("name", ["nce", "rce", "nfl", "nce_rce", "nce_mae", "nfl_rce"])
def test_apl_losses_take_class_labels_only(name):
    assert losses.valid_for("multiclass").count(name) == 1
    assert name not in losses.valid_for("binary") + losses.valid_for("regression")
