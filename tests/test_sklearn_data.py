"""diabetes, breast_cancer and wine: scikit-learn's real tables as tasks, split by the seed,
standardised by the training part only, with outliers or label noise on the training part."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import train_cli

import tasks
from lossbench.errors import UserError
from trainer import run

PUBLISHED = {"diabetes": (442, 10, "regression"), "breast_cancer": (569, 30, "binary"),
             "wine": (178, 13, "multiclass")}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_each_table_has_its_published_shape_and_a_stratified_seeded_split(make_cfg, name):
    cfg = make_cfg(f"task={name}", "task.val_fraction=0")
    data = tasks.get(name).build(cfg.task)
    n, features, kind = PUBLISHED[name]
    assert data.kind == kind and data.input_shape == (features,)
    assert len(data.y_train) + len(data.y_test) == n
    assert len(data.y_test) == pytest.approx(0.2 * n, abs=1)
    # standardised with the training part's statistics, not the whole table's
    assert data.x_train.mean(0).abs().max() < 1e-5
    assert torch.allclose(data.x_train.std(0, unbiased=False), torch.ones(features), atol=1e-4)
    assert data.x_test.mean(0).abs().max() > 1e-3
    if kind != "regression":
        train, test = (np.bincount(y.numpy()) / len(y) for y in (data.y_train, data.y_test))
        assert np.abs(train - test).max() < 0.05  # stratified
    same = tasks.get(name).build(make_cfg(f"task={name}", "task.val_fraction=0").task)
    other = tasks.get(name).build(make_cfg(f"task={name}", "task.val_fraction=0",
                                           "seed=1").task)
    assert torch.equal(same.x_test, data.x_test) and not torch.equal(other.x_test, data.x_test)


def test_diabetes_outliers_hit_only_the_training_targets(make_cfg):
    clean = tasks.get("diabetes").build(make_cfg("task=diabetes", "task.val_fraction=0").task)
    dirty = tasks.get("diabetes").build(make_cfg("task=diabetes", "task.val_fraction=0",
                                                 "task.outlier_fraction=0.2").task)
    assert torch.equal(clean.y_test, dirty.y_test)
    moved = dirty.y_train != clean.y_train
    assert torch.equal(moved, dirty.corrupted)
    assert int(moved.sum()) == round(0.2 * len(clean.y_train))
    assert bool((dirty.y_train[moved] > clean.y_train[moved] + 4).all())  # ≥ 5 sd pushed up
    assert clean.y_train.mean().abs() < 1e-5 and clean.y_train.std(unbiased=False) == \
        pytest.approx(1, abs=1e-4)


def test_wine_takes_label_noise_like_every_classification_task(make_cfg):
    data = tasks.get("wine").build(make_cfg("task=wine", "task.label_noise=0.4",
                                            "task.val_fraction=0").task)
    assert data.info["label_noise"] == pytest.approx(0.4, abs=0.1)
    assert 0 < int(data.corrupted.sum()) < len(data.corrupted)


@pytest.mark.parametrize(("name", "fraction"), [("wine", 0.01), ("wine", 0.99),
                                                ("diabetes", 0.001)])
def test_a_split_leaving_a_side_short_is_refused(make_cfg, name, fraction):
    cfg = make_cfg(f"task={name}", f"task.test_fraction={fraction}")
    with pytest.raises(UserError, match=r"task.test_fraction=.* at least \d+ of the"):
        tasks.get(name).check(cfg.task)


@pytest.mark.parametrize(("name", "loss", "metric", "at_least"), [
    ("wine", "ce", "test/accuracy", 0.9), ("breast_cancer", "bce", "test/accuracy", 0.9),
    ("diabetes", "huber", "test/r2", 0.2)])
def test_every_table_trains_to_a_sensible_score(make_cfg, tmp_path, name, loss, metric,
                                                at_least):
    record = run.run(make_cfg(f"task={name}", f"loss={loss}", "trainer.max_epochs=20"),
                     tmp_path)
    assert record["status"] == "ok" and record["final"][metric] >= at_least


def test_the_command_line_sweeps_a_table_with_outliers(tmp_path):
    done = train_cli("-m", "task=diabetes", "loss=l1,mse", "task.outlier_fraction=0.2",
                     "trainer.max_epochs=2", f"hydra.sweep.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert "2 job(s) this launch: 2 ok" in done.stdout
