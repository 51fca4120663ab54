"""scripts/gen/loss_shapes.py draws the project's own losses, with autograd derivatives."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from conftest import ROOT

from scripts.gen import loss_shapes

pytestmark = pytest.mark.numerics  # tests/numerics.py


def test_regression_curves_are_the_losses_and_their_derivatives():
    errors = torch.tensor([-3.0, -0.5, 0.25, 2.0])
    values, slopes = loss_shapes.regression_curve({"name": "mse"}, errors)
    assert values == pytest.approx((errors**2).tolist())
    assert slopes == pytest.approx((2 * errors).tolist())
    values, slopes = loss_shapes.regression_curve({"name": "smoothl1", "beta": 1.0}, errors)
    assert slopes == pytest.approx([-1.0, -0.5, 0.25, 1.0])


def test_classification_curve_is_drawn_against_the_true_class_probability():
    probs = torch.tensor([0.1, 0.5, 0.9])
    for kind in ("multiclass", "binary"):
        name = "ce" if kind == "multiclass" else "bce_logits"
        values, slopes = loss_shapes.classification_curve({"name": name}, kind, probs)
        assert values == pytest.approx((-probs.log()).tolist(), rel=1e-5)
        assert slopes == pytest.approx((-1 / probs).tolist(), rel=1e-4)


def test_script_writes_both_figures(tmp_path):
    result = subprocess.run([sys.executable, "-m", "scripts.gen.loss_shapes", "--out",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for name in ("loss_shapes_regression.png", "loss_shapes_classification.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
