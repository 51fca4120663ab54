"""Losses: the tutorial's worked examples through the loss configs; how kinds are adapted."""

from __future__ import annotations

import pytest
import torch
from conftest import CONFIGS
from omegaconf import OmegaConf

from lossbench.contract import KINDS
from trainer import losses, schemas

pytestmark = pytest.mark.numerics  # tests/numerics.py


def loss_from_config(name: str, kind: str) -> losses.Loss:
    return losses.build(schemas.option_values("loss", name), kind)


def logit(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p / (1 - p))


# (loss, kind, prediction, target, value) from the tutorial (shared/seed/README.md).
TUTORIAL = [
    ("ce", "multiclass", torch.tensor([[0.2, 0.6, 0.2], [0.1, 0.8, 0.1]]),
     torch.tensor([1, 2], dtype=torch.int64), 1.1201),
    # The tutorial feeds probabilities to nn.BCELoss; `bce` applies the sigmoid
    # itself, so it gets the logits of those probabilities.
    ("bce", "binary", logit(torch.tensor([0.6901, 0.5459])), torch.tensor([0.0, 1.0]), 0.8884),
    ("bce_logits", "binary", logit(torch.tensor([0.6901, 0.5459])), torch.tensor([0.0, 1.0]),
     0.8884),
    ("l1", "regression", torch.tensor([1.0, 1.0, 1.9]), torch.tensor([2.0, 2.0, 2.0]), 0.7),
    ("mse", "regression", torch.tensor([1.0, 1.0, 1.9]), torch.tensor([2.0, 2.0, 2.0]), 0.67),
    # The tutorial's target is int64; the loss must still compute 1.14.
    ("smoothl1", "regression", torch.tensor([0.6, 0.4]), torch.tensor([0, 3]), 1.14),
]


@pytest.mark.parametrize(("name", "kind", "pred", "target", "value"), TUTORIAL,
                         ids=[t[0] for t in TUTORIAL])
def test_tutorial_examples(name, kind, pred, target, value):
    assert loss_from_config(name, kind)(pred, target).item() == pytest.approx(value, abs=1e-4)


def test_regression_output_column_is_matched_to_flat_targets():
    pred = torch.tensor([[1.0], [1.0], [1.9]])  # what a one-output model emits
    assert loss_from_config("mse", "regression")(pred, torch.tensor([2.0, 2.0, 2.0])).item() \
        == pytest.approx(0.67, abs=1e-6)


def test_distance_losses_on_multiclass_compare_softmax_with_onehot():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 3.0]])
    target = torch.tensor([0, 1])
    probs = logits.softmax(1)
    onehot = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    assert loss_from_config("mse", "multiclass")(logits, target).item() == pytest.approx(
        ((probs - onehot) ** 2).mean().item())
    assert loss_from_config("l1", "multiclass")(logits, target).item() == pytest.approx(
        (probs - onehot).abs().mean().item())


def test_distance_losses_on_binary_compare_sigmoid_with_zero_one():
    logits = torch.tensor([[0.5], [-2.0]])
    target = torch.tensor([1, 0])
    p = torch.sigmoid(torch.tensor([0.5, -2.0]))
    assert loss_from_config("mse", "binary")(logits, target).item() == pytest.approx(
        ((p - torch.tensor([1.0, 0.0])) ** 2).mean().item())


def test_huber_is_smoothl1_scaled_by_delta():
    pred, target = torch.tensor([0.3, 4.0, -2.5]), torch.zeros(3)
    huber = losses.build({"name": "huber", "delta": 2.0}, "regression")(pred, target)
    smooth = losses.build({"name": "smoothl1", "beta": 2.0}, "regression")(pred, target)
    assert huber.item() == pytest.approx(2.0 * smooth.item())


def test_each_kind_lists_its_losses():
    assert losses.valid_for("regression") == [
        "barron", "huber", "l1", "logcosh", "mse", "quantile", "smoothl1"]
    assert losses.valid_for("binary") == [
        "bce", "bce_logits", "ce", "focal", "hinge", "huber", "l1", "mse", "smoothl1",
        "soft_margin"]
    assert losses.valid_for("multiclass") == [
        "ce", "focal", "gce", "huber", "l1", "mae", "mse", "multi_margin", "nce", "nce_mae",
        "nce_rce", "nfl", "nfl_rce", "nll", "rce", "sce", "smoothl1"]


def test_every_loss_config_names_a_registered_loss_and_back():
    configured = {p.stem: OmegaConf.load(p).name for p in (CONFIGS / "loss").glob("*.yaml")}
    assert all(stem == name for stem, name in configured.items())
    assert set(configured) == set(losses.LOSSES)


def test_every_loss_config_lists_its_class_parameters_and_defaults():
    for name in losses.LOSSES:
        cfg = schemas.option_values("loss", name)
        assert {k: v for k, v in cfg.items() if k != "name"} == losses.parameters(name), name


def test_every_loss_accepts_some_kind_and_builds_for_it():
    for name, cls in losses.LOSSES.items():
        assert cls.adapters, name
        assert set(cls.adapters) <= set(KINDS)
        for kind in cls.adapters:
            assert isinstance(loss_from_config(name, kind), losses.Loss)
