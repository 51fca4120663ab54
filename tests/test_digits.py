"""digits: scikit-learn's real 8×8 digits, split by the seed, trainable by every model."""

from __future__ import annotations

import pytest
import torch

import tasks
from lossbench.errors import UserError
from trainer import schemas
from trainer.run import run


def test_split_is_stratified_and_covers_every_image(make_cfg):
    data = tasks.get("digits").build(make_cfg("task.val_fraction=0", "task=digits").task)
    assert data.x_train.shape == (1437, 8, 8) and data.x_test.shape == (360, 8, 8)
    assert data.input_shape == (1, 8, 8) and data.x_train.dtype == torch.uint8
    test_counts = torch.bincount(data.y_test, minlength=10)
    assert test_counts.min() >= 34 and test_counts.max() <= 37  # ~20% of 174..183 per class
    total = torch.bincount(data.y_train, minlength=10) + test_counts
    assert total.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_split_follows_the_seed(make_cfg):
    a = tasks.get("digits").build(make_cfg("task=digits", "seed=1").task)
    b = tasks.get("digits").build(make_cfg("task=digits", "seed=1").task)
    c = tasks.get("digits").build(make_cfg("task=digits", "seed=2").task)
    assert torch.equal(a.x_test, b.x_test) and not torch.equal(a.x_test, c.x_test)


def test_prepare_scales_pixels_to_standard_units(make_cfg):
    data = tasks.get("digits").build(make_cfg("task.val_fraction=0", "task=digits").task)
    x = data.prepare(data.x_train)
    assert x.shape == (1437, 1, 8, 8) and x.dtype == torch.float32
    assert abs(x.mean().item()) < 0.05 and abs(x.std().item() - 1) < 0.05


@pytest.mark.parametrize("value", [0, 1, 0.001, 0.999, "a"])
def test_test_fraction_must_leave_every_class_on_both_sides(make_cfg, value):
    with pytest.raises(UserError, match=r"task.test_fraction=.* at least 10 of the 1797 images"):
        schemas.check(make_cfg("task=digits", f"task.test_fraction={value}"))


def test_cnn_learns_real_digits(make_cfg, tmp_path):
    record = run(make_cfg("task=digits", "loss=ce", "model=cnn", "trainer.max_epochs=5"),
                 tmp_path)
    # A linear classifier on these 64 pixels scores about 0.95; chance is 0.1.
    assert record["status"] == "ok" and record["final"]["test/accuracy"] >= 0.9
