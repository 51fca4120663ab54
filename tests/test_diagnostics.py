"""Gradient diagnostics: the tutorial's claims about each loss's gradient, measured."""

from __future__ import annotations

import pytest
import torch
from tbparse import SummaryReader

from trainer import losses
from trainer.diagnostics import OutputGradients
from trainer.run import run


def output_gradient_sizes(loss: str, errors: torch.Tensor, **params) -> torch.Tensor:
    """Per-sample output-gradient size for predictions off the target by `errors`."""
    pred = errors.clone().requires_grad_(True)
    diag = OutputGradients(torch.zeros(1, len(errors), dtype=torch.bool))
    diag.watch(pred)
    losses.build({"name": loss, **params}, "regression")(pred, torch.zeros_like(errors)).backward()
    return diag.grad.abs() * len(errors)


ERRORS = torch.tensor([-4.0, -1.5, -0.6, -0.2, 0.1, 0.3, 0.9, 2.0, 7.0])


@pytest.mark.numerics
def test_l1_gradient_has_the_same_size_for_every_sample():
    sizes = output_gradient_sizes("l1", ERRORS)
    assert torch.allclose(sizes, torch.ones_like(sizes))


@pytest.mark.numerics
def test_mse_gradient_is_proportional_to_the_error():
    sizes = output_gradient_sizes("mse", ERRORS)
    assert torch.allclose(sizes, 2 * ERRORS.abs())


@pytest.mark.numerics
def test_smoothl1_gradient_is_proportional_inside_beta_and_constant_outside():
    beta = 1.0
    sizes = output_gradient_sizes("smoothl1", ERRORS, beta=beta)
    inside = ERRORS.abs() < beta
    assert torch.allclose(sizes[inside], ERRORS[inside].abs() / beta)
    assert torch.allclose(sizes[~inside], torch.ones(int((~inside).sum())))


def corrupted_share(loss: str) -> tuple[float, float]:
    """A batch of 200 with 10% outliers 10 to 15 off; the rest N(0, 1) off."""
    generator = torch.Generator().manual_seed(0)
    errors = torch.randn(200, generator=generator)
    corrupted = torch.zeros(200, dtype=torch.bool)
    corrupted[::10] = True
    errors[corrupted] = 10 + 5 * torch.rand(20, generator=generator)
    model = torch.nn.Linear(1, 1)
    pred = model(errors[:, None]) * 0 + errors[:, None]  # gradients flow to the model too
    diag = OutputGradients(corrupted[None])  # one member: the engine's (M, ...) layout
    stacked = pred[None]
    diag.watch(stacked)
    losses.build({"name": loss}, "regression")(stacked[0], torch.zeros(200)).backward()
    scalars = diag.scalars([p.grad[None] for p in model.parameters()], torch.arange(200)[None])
    return scalars["grad/corrupted_share"].item(), scalars["data/corrupted_fraction"].item()


def test_outliers_take_most_of_the_mse_gradient():
    share, fraction = corrupted_share("mse")
    assert fraction == pytest.approx(0.1) and share > 0.5


def test_outliers_take_their_own_share_of_the_l1_gradient():
    share, fraction = corrupted_share("l1")
    assert share == pytest.approx(fraction, abs=1e-6)


@pytest.mark.numerics
def test_diagnostics_change_no_result_and_write_the_tags(make_cfg, tmp_path):
    args = ("task=regression", "loss=mse", "task.outlier_fraction=0.2",
            "trainer.log_every_n_steps=2")
    plain = run(make_cfg(*args), tmp_path / "plain")
    watched = run(make_cfg(*args, "trainer.diagnostics=true"), tmp_path / "watched")
    strip = [{k: v for k, v in h.items() if k != "time_s"} for h in plain["history"]]
    assert strip == [{k: v for k, v in h.items() if k != "time_s"} for h in watched["history"]]
    scalars = SummaryReader(str(tmp_path / "watched")).scalars
    tags = set(scalars["tag"])
    assert {"grad/norm", "grad/output_abs_mean", "grad/output_abs_max", "grad/corrupted_share",
            "data/corrupted_fraction"} <= tags
    assert "grad/norm" not in set(SummaryReader(str(tmp_path / "plain")).scalars["tag"])
    share = scalars[scalars["tag"] == "grad/corrupted_share"]["value"]
    assert ((share >= 0) & (share <= 1)).all()


def test_tasks_without_corruption_log_no_corrupted_share(make_cfg, tmp_path):
    run(make_cfg("task=mnist", "loss=ce", "trainer.diagnostics=true"), tmp_path)
    tags = set(SummaryReader(str(tmp_path)).scalars["tag"])
    assert "grad/norm" in tags and "grad/corrupted_share" not in tags
