"""The torch test metrics against scikit-learn, the oracle, on random data with ties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from lossbench.metrics import compute

pytestmark = pytest.mark.numerics  # tests/numerics.py

SEEDS = range(8)


def ties(rng: np.random.Generator, n: int, levels: int) -> np.ndarray:
    """Scores drawn from few distinct values, so many of them tie."""
    return rng.integers(-levels, levels + 1, size=n) / 4.0


@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_accuracy_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    logits = rng.standard_normal((n, 10)).astype(np.float32)
    y = rng.integers(0, 10, size=n)
    got = compute(("accuracy",), torch.from_numpy(logits), torch.from_numpy(y))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, logits.argmax(axis=1)))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("levels", [1, 3, 1000])  # heavy ties … hardly any
def test_binary_accuracy_and_auc_match_sklearn(seed, levels):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    scores = ties(rng, n, levels).astype(np.float32)
    y = rng.integers(0, 2, size=n)
    y[:2] = [0, 1]  # both classes present
    got = compute(("accuracy", "auc"), torch.from_numpy(scores)[:, None], torch.from_numpy(y))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, (scores > 0).astype(y.dtype)))
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, scores), abs=1e-12)


def test_auc_is_nan_for_one_class_or_a_non_finite_score():
    y = torch.tensor([1, 1, 1])
    assert math.isnan(compute(("auc",), torch.tensor([0.1, 0.2, 0.3]), y)["auc"])
    y = torch.tensor([0, 1, 1])
    assert math.isnan(compute(("auc",), torch.tensor([0.1, math.nan, 0.3]), y)["auc"])
    assert compute(("auc",), torch.tensor([0.1, 0.2, 0.3]), y)["auc"] == 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 500))
    y = np.round(rng.standard_normal(n), 1).astype(np.float32)  # repeated values too
    pred = (y + rng.standard_normal(n) * rng.uniform(0, 2)).astype(np.float32)
    got = compute(("mse", "mae", "r2"), torch.from_numpy(pred)[:, None], torch.from_numpy(y))
    y64, p64 = y.astype(np.float64), pred.astype(np.float64)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y64, p64), rel=1e-12)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y64, p64), rel=1e-12)
    assert got["r2"] == pytest.approx(skm.r2_score(y64, p64), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("pred", "expected"), [([1.0, 1.0, 1.0], 1.0), ([1.0, 2.0, 1.0], 0.0)])
def test_r2_on_constant_targets_follows_sklearn(pred, expected):
    y = np.ones(3)
    assert skm.r2_score(y, pred) == expected
    assert compute(("r2",), torch.tensor(pred), torch.from_numpy(y))["r2"] == expected


def test_metrics_come_back_in_the_order_asked_and_unknown_ones_are_named():
    out, y = torch.tensor([0.5, 1.5]), torch.tensor([1.0, 1.0])
    assert list(compute(("r2", "mse"), out, y)) == ["r2", "mse"]
    with pytest.raises(KeyError, match="unknown metric 'f1'"):
        compute(("f1",), out, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_metrics_on_cuda_equal_those_on_the_cpu():
    rng = np.random.default_rng(0)
    scores, y = torch.from_numpy(ties(rng, 1000, 5)), torch.from_numpy(rng.integers(0, 2, 1000))
    on_cpu = compute(("accuracy", "auc"), scores, y)
    assert compute(("accuracy", "auc"), scores.cuda(), y.cuda()) == pytest.approx(on_cpu)
