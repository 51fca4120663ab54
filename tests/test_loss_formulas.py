"""The losses beyond the tutorial, against values worked out by hand or from known limits.

References are written with plain arithmetic on the probabilities, never with
the functions under test, so a wrong formula or a wrong adapter shows.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lossbench.errors import UserError
from trainer import losses

pytestmark = pytest.mark.numerics  # tests/numerics.py

LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [-0.5, 1.5, 0.0]], dtype=torch.float64)
Y = torch.tensor([0, 1, 1])
P = LOGITS.exp() / LOGITS.exp().sum(1, keepdim=True)  # softmax by hand
P_TRUE = P[torch.arange(3), Y]
CE = (-P_TRUE.log()).mean().item()


def loss(name: str, kind: str, out: torch.Tensor, target: torch.Tensor, **params) -> float:
    return losses.build({"name": name, **params}, kind)(out, target).item()


def test_label_smoothing_mixes_in_the_uniform_target():
    eps = 0.2
    uniform_ce = (-P.log()).mean(1)  # −(1/C) Σ_c log p_c per sample
    expected = ((1 - eps) * -P_TRUE.log() + eps * uniform_ce).mean().item()
    assert loss("ce", "multiclass", LOGITS, Y, label_smoothing=eps) == pytest.approx(expected)
    assert loss("ce", "multiclass", LOGITS, Y) == pytest.approx(CE)


def test_nll_on_log_softmax_equals_ce():
    assert loss("nll", "multiclass", LOGITS, Y) == pytest.approx(CE)


def test_focal_with_gamma_zero_is_ce_and_down_weights_easy_examples():
    assert loss("focal", "multiclass", LOGITS, Y, gamma=0.0) == pytest.approx(CE)
    expected = (-((1 - P_TRUE) ** 2) * P_TRUE.log()).mean().item()
    assert loss("focal", "multiclass", LOGITS, Y, gamma=2.0) == pytest.approx(expected)


def test_binary_focal_reads_the_logit_as_the_positive_class():
    z, y = torch.tensor([[1.5], [-0.3], [2.0]]), torch.tensor([1, 0, 0])
    s = [1 / (1 + math.exp(-v)) for v in (1.5, -0.3, 2.0)]
    p_true = [s[0], 1 - s[1], 1 - s[2]]
    expected = sum(-((1 - p) ** 2) * math.log(p) for p in p_true) / 3
    assert loss("focal", "binary", z, y, gamma=2.0) == pytest.approx(expected, rel=1e-5)
    bce = loss("bce_logits", "binary", z, y)
    assert loss("focal", "binary", z, y, gamma=0.0) == pytest.approx(bce, rel=1e-6)


def test_focal_gradient_stays_finite_when_p_rounds_to_one():
    logits = torch.tensor([[60.0, 0.0, 0.0]], requires_grad=True)
    losses.build({"name": "focal", "gamma": 0.5}, "multiclass")(logits, torch.tensor([0])
                                                              ).backward()
    assert torch.isfinite(logits.grad).all()


def test_mae_is_the_summed_absolute_error_on_softmax():
    onehot = torch.eye(3, dtype=torch.float64)[Y]
    expected = (P - onehot).abs().sum(1).mean().item()
    assert loss("mae", "multiclass", LOGITS, Y) == pytest.approx(expected)
    assert expected == pytest.approx(2 * (1 - P_TRUE).mean().item())


def test_gce_spans_ce_and_mae():
    assert loss("gce", "multiclass", LOGITS, Y, q=1e-6) == pytest.approx(CE, rel=1e-5)
    one_minus_p = (1 - P_TRUE).mean().item()
    assert loss("gce", "multiclass", LOGITS, Y, q=1.0) == pytest.approx(one_minus_p)
    assert loss("gce", "multiclass", LOGITS, Y, q=1.0) == pytest.approx(
        loss("mae", "multiclass", LOGITS, Y) / 2)
    q = 0.7
    expected = ((1 - P_TRUE**q) / q).mean().item()
    assert loss("gce", "multiclass", LOGITS, Y, q=q) == pytest.approx(expected)


def test_sce_is_ce_plus_reverse_ce_with_log_zero_clamped_to_minus_four():
    onehot = torch.eye(3, dtype=torch.float64)[Y]
    log_q = onehot.clamp_min(math.exp(-4)).log()  # log 1 = 0, log 0 → −4
    rce = (-(P * log_q).sum(1)).mean().item()
    assert rce == pytest.approx(4 * (1 - P_TRUE).mean().item())
    assert loss("sce", "multiclass", LOGITS, Y, alpha=0.1, beta=1.0) == pytest.approx(
        0.1 * CE + rce)
    assert loss("sce", "multiclass", LOGITS, Y, alpha=1.0, beta=0.0) == pytest.approx(CE)


def test_multi_margin_is_the_multiclass_hinge():
    z = LOGITS.tolist()
    expected = sum(max(0.0, 1 - z[i][y] + z[i][c]) for i, y in enumerate(Y.tolist())
                   for c in range(3) if c != y) / 3 / 3
    assert loss("multi_margin", "multiclass", LOGITS, Y) == pytest.approx(expected)


def test_binary_hinge_and_soft_margin_map_labels_to_plus_minus_one():
    z, y = torch.tensor([[2.0], [0.3], [0.5], [-3.0]]), torch.tensor([1, 1, 0, 0])
    # t·z = 2, 0.3, −0.5, 3: hinge max(0, 1 − t·z)
    assert loss("hinge", "binary", z, y) == pytest.approx((0 + 0.7 + 1.5 + 0) / 4)
    expected = sum(math.log1p(math.exp(-m)) for m in (2.0, 0.3, -0.5, 3.0)) / 4
    assert loss("soft_margin", "binary", z, y) == pytest.approx(expected, rel=1e-6)
    assert loss("soft_margin", "binary", z, y) == pytest.approx(loss("bce_logits", "binary", z, y))


def test_ce_on_one_binary_logit_is_bce_with_logits():
    z, y = torch.tensor([[2.0], [0.3], [0.5], [-3.0]]), torch.tensor([1, 1, 0, 0])
    expected = -sum(math.log(1 / (1 + math.exp(-v))) if t else math.log(1 / (1 + math.exp(v)))
                    for v, t in zip((2.0, 0.3, 0.5, -3.0), (1, 1, 0, 0), strict=True)) / 4
    assert loss("ce", "binary", z, y) == pytest.approx(expected, rel=1e-6)
    assert loss("ce", "binary", z, y) == pytest.approx(loss("bce_logits", "binary", z, y))


SMALL = torch.tensor([0.01, -0.02, 0.005, 0.03])


def test_huber_with_a_huge_delta_is_half_the_mse():
    half_mse = 0.5 * (SMALL**2).mean().item()
    assert loss("huber", "regression", SMALL, torch.zeros(4), delta=1e6) == pytest.approx(half_mse)


def test_logcosh_is_quadratic_near_zero_and_linear_far_out():
    zeros = torch.zeros(4, dtype=torch.float64)
    small = SMALL.double()
    assert loss("logcosh", "regression", small, zeros) == pytest.approx(
        0.5 * (small**2).mean().item(), rel=1e-3)
    big = torch.tensor([30.0, -45.0, 1000.0, -1e4], dtype=torch.float64)
    assert loss("logcosh", "regression", big, zeros) == pytest.approx(
        (big.abs() - math.log(2)).mean().item())
    mid = torch.tensor([0.5, -2.0, 3.0, 1.0], dtype=torch.float64)
    expected = sum(math.log(math.cosh(v)) for v in mid.tolist()) / 4
    assert loss("logcosh", "regression", mid, zeros) == pytest.approx(expected)


def test_quantile_at_the_median_is_half_the_l1_and_tilts_otherwise():
    pred, target = torch.tensor([1.0, 3.0, -2.0]), torch.tensor([2.0, 1.0, -2.5])
    l1 = loss("l1", "regression", pred, target)
    assert loss("quantile", "regression", pred, target, tau=0.5) == pytest.approx(l1 / 2)
    # u = y − ŷ = 1, −2, −0.5: under-predictions cost τ|u|, over-predictions (1 − τ)|u|.
    assert loss("quantile", "regression", pred, target, tau=0.9) == pytest.approx(
        (0.9 * 1 + 0.1 * 2 + 0.1 * 0.5) / 3)


X = torch.tensor([0.3, -1.2, 2.5, 7.0, -20.0], dtype=torch.float64)
ZEROS = torch.zeros(5, dtype=torch.float64)


def barron(alpha: float, scale: float = 1.0) -> float:
    return loss("barron", "regression", X, ZEROS, alpha=alpha, scale=scale)


@pytest.mark.parametrize(("alpha", "rho"), [
    (2.0, lambda z: 0.5 * z),                            # half the scaled L2
    (1.0, lambda z: math.sqrt(z + 1) - 1),               # pseudo-Huber / Charbonnier
    (0.0, lambda z: math.log(0.5 * z + 1)),              # Cauchy / Lorentzian
    (-2.0, lambda z: 2 * z / (z + 4)),                   # Geman-McClure
    (-math.inf, lambda z: 1 - math.exp(-0.5 * z)),       # Welsch
])
def test_barron_special_cases(alpha, rho):
    scale = 1.5
    expected = sum(rho((v / scale) ** 2) for v in X.tolist()) / len(X)
    assert barron(alpha, scale) == pytest.approx(expected)


def test_barron_is_continuous_at_its_limits():
    for limit in (0.0, 2.0):
        for nudge in (-1e-7, 1e-7):
            assert barron(limit + nudge) == pytest.approx(barron(limit), rel=1e-5)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=6, max_size=6), st.integers(0, 2),
       st.integers(0, 2))
def test_noise_robust_identities_hold_for_any_logits(values, y0, y1):
    logits = torch.tensor(values, dtype=torch.float64).reshape(2, 3)
    y = torch.tensor([y0, y1])
    ce = loss("ce", "multiclass", logits, y)
    assert loss("nll", "multiclass", logits, y) == pytest.approx(ce)
    assert loss("focal", "multiclass", logits, y, gamma=0.0) == pytest.approx(ce)
    assert loss("gce", "multiclass", logits, y, q=1.0) == pytest.approx(
        loss("mae", "multiclass", logits, y) / 2, abs=1e-12)


@pytest.mark.parametrize(("cfg", "key"), [
    ({"name": "gce", "q": 0.0}, "loss.q=0.0"),
    ({"name": "gce", "q": 1.5}, "loss.q=1.5"),
    ({"name": "focal", "gamma": -1}, "loss.gamma=-1"),
    ({"name": "ce", "label_smoothing": 2}, "loss.label_smoothing=2"),
    ({"name": "quantile", "tau": 1.0}, "loss.tau=1.0"),
    ({"name": "barron", "scale": 0}, "loss.scale=0"),
    ({"name": "barron", "alpha": math.nan}, "loss.alpha=nan"),
    ({"name": "multi_margin", "p": 3}, "loss.p=3"),
    ({"name": "sce", "beta": "x"}, "loss.beta='x'"),
    ({"name": "ce", "gamma": 2.0}, "loss.gamma is not a parameter of loss=ce"),
])
def test_bad_loss_parameters_are_one_line_user_errors(cfg, key):
    with pytest.raises(UserError, match=key.replace(".", r"\.").replace("(", r"\(")) as err:
        losses.check(cfg)
    assert "\n" not in str(err.value)
