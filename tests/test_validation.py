"""The validation split: disjoint, stratified, corrupted like training unless asked otherwise;
selection on it; and task.val_fraction=0 giving back the history of the code before it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import train_cli
from numerics import assert_same_metrics

import tasks
from lossbench.contract import TaskData
from lossbench.errors import UserError
from tasks import validation
from trainer import schemas
from trainer.logger import _selected
from trainer.run import run


def data(make_cfg, *overrides: str) -> TaskData:
    """A task's data as a run gets it: through tasks.get, which adds noise and the split."""
    cfg = make_cfg(*overrides)
    return tasks.get(cfg.task.name).build(cfg.task)


def rows(x: torch.Tensor) -> set[bytes]:
    return {r.numpy().tobytes() for r in x}


def test_the_split_is_disjoint_complete_and_stratified():
    labels = np.repeat(np.arange(4), [400, 300, 200, 100])  # unbalanced on purpose
    train, val = validation.split_indices(len(labels), 0.1, seed=0, labels=labels)
    assert len(val) == 100 and not set(train) & set(val)
    assert sorted([*train, *val]) == list(range(1000))
    assert np.bincount(labels[val]).tolist() == [40, 30, 20, 10]  # each class's share kept
    again, _ = validation.split_indices(len(labels), 0.1, seed=0, labels=labels)
    other, _ = validation.split_indices(len(labels), 0.1, seed=1, labels=labels)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


@pytest.mark.numerics
@pytest.mark.parametrize(("n", "fraction", "seed", "counts"), [
    (1000, 0.1, 0, [400, 300, 200, 100]), (1437, 0.1, 7, [143] * 9 + [150]),
    (997, 0.33, 2**32 - 1, [3, 2, 500, 492]), (2000, 0.1, 5, None), (17, 0.2, 1, None)])
def test_the_split_is_scikit_learns_draw_for_draw(n, fraction, seed, counts):
    from sklearn.model_selection import train_test_split

    labels = None if counts is None else \
        np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    train, val = validation.split_indices(n, fraction, seed, labels)
    theirs = train_test_split(np.arange(n), test_size=fraction, random_state=seed,
                              stratify=labels)
    assert np.array_equal(train, np.sort(theirs[0])) and np.array_equal(val, np.sort(theirs[1]))


@pytest.mark.parametrize("task", ["mnist", "digits", "mnist_binary", "regression"])
def test_validation_comes_from_training_data_never_from_test(make_cfg, task):
    pool = data(make_cfg, f"task={task}", "task.val_fraction=0")
    assert pool.x_val is None
    split = data(make_cfg, f"task={task}", "task.val_fraction=0.2")
    assert len(split.x_train) + len(split.x_val) == len(pool.x_train)
    assert len(split.x_val) == int(np.ceil(0.2 * len(pool.x_train)))
    assert torch.equal(split.x_test, pool.x_test) and torch.equal(split.y_test, pool.y_test)
    assert not rows(split.x_val) & rows(split.x_train)
    assert rows(split.x_val) | rows(split.x_train) == rows(pool.x_train)
    assert not rows(split.x_val) & rows(split.x_test)
    assert len(split.corrupted) == len(split.y_train)
    if task != "regression":  # both classes (all ten) on each side, in proportion
        counts = torch.bincount(split.y_val).tolist()
        expected = (torch.bincount(pool.y_train) * 0.2).tolist()
        assert all(abs(c - e) <= 1 for c, e in zip(counts, expected, strict=True))


def test_validation_labels_are_noisy_by_default_and_clean_on_request(make_cfg):
    base = ("task=digits", "task.label_noise=0.4")
    clean = data(make_cfg, "task=digits")
    noisy = data(make_cfg, *base)
    cleaned = data(make_cfg, *base, "task.val_clean=true")
    # Stratified on the published labels: the noise rate does not move the split.
    assert torch.equal(clean.x_val, noisy.x_val) and torch.equal(clean.x_val, cleaned.x_val)
    assert torch.equal(cleaned.y_val, clean.y_val)
    assert torch.equal(cleaned.y_train, noisy.y_train)  # training keeps its noise either way
    flipped = (noisy.y_val != clean.y_val).float().mean().item()
    assert flipped == pytest.approx(0.4, abs=0.1)  # 144 validation labels: a sample of the 0.4
    assert noisy.info["val_label_noise"] == pytest.approx(flipped)
    assert cleaned.info["val_label_noise"] == 0.0
    assert noisy.info["label_noise"] == pytest.approx(noisy.corrupted.float().mean().item())


def test_regression_validation_keeps_its_outliers_unless_clean(make_cfg):
    base = ("task=regression", "task.outlier_fraction=0.3")
    none = data(make_cfg, "task=regression", "task.outlier_fraction=0")
    dirty = data(make_cfg, *base)
    cleaned = data(make_cfg, *base, "task.val_clean=true")
    assert torch.equal(cleaned.y_val, none.y_val)  # measurement noise stays, outliers go
    assert (dirty.y_val - none.y_val > 1).float().mean().item() == pytest.approx(0.3, abs=0.1)
    assert cleaned.info["val_outlier_fraction"] == 0.0 < dirty.info["val_outlier_fraction"]


def test_the_data_seed_fixes_the_split_while_the_seed_varies(make_cfg):
    fixed = [data(make_cfg, "task=digits", "task.label_noise=0.2", f"seed={s}",
                  "task.data_seed=0") for s in (1, 2)]
    assert torch.equal(fixed[0].x_val, fixed[1].x_val)
    assert torch.equal(fixed[0].y_train, fixed[1].y_train)  # the same noise draw too
    moved = data(make_cfg, "task=digits", "task.label_noise=0.2", "seed=1")
    assert not torch.equal(fixed[0].x_val, moved.x_val)


def test_seeds_with_a_fixed_data_seed_differ_only_in_initialisation(make_cfg, tmp_path):
    records = [run(make_cfg("task=digits", "loss=ce", "task.data_seed=0", f"seed={s}"),
                   tmp_path / str(s)) for s in (1, 2)]
    assert records[0]["data"] == records[1]["data"]
    assert records[0]["history"][0]["train/loss_epoch"] \
        != records[1]["history"][0]["train/loss_epoch"]


@pytest.mark.parametrize(("override", "message"), [
    ("task.val_fraction=1", r"task\.val_fraction=1\.0 is not valid: a fraction in \[0, 1\)"),
    ("task.val_fraction=-0.1", r"task\.val_fraction=-0\.1 is not valid"),
    ("task.val_fraction=true", r"task\.val_fraction=true is not valid"),
    ("task.val_clean=maybe", r"task\.val_clean=maybe is not valid: true or false"),
])
def test_bad_values_are_refused_before_any_data_is_read(make_cfg, override, message):
    with pytest.raises(UserError, match=message):  # wrong types while composing, like train.py
        schemas.check(make_cfg("task=digits", override))


def test_a_split_too_small_for_every_class_is_one_clear_line(tmp_path):
    result = train_cli("task=digits", "loss=ce", "task.val_fraction=0.005",
                       f"hydra.run.dir={tmp_path}", "trainer.device=cpu")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: task.val_fraction=0.005 is not valid: 0, or a fraction that leaves at least 10 "
        "of the 1437 training samples on each side of the stratified split, one per class."]


def test_regression_needs_two_validation_samples():
    with pytest.raises(UserError, match="at least 2 of the 10 training samples"):
        validation.split_indices(10, 0.1, seed=0, labels=None)


# Histories of the code before the validation split (commit 77d0864), same configs, seed 3.
BEFORE = {
    ("task=regression", "loss=mse", "task.n_train=256", "task.n_test=128"): [
        {"epoch": 1, "train/loss_epoch": 11.669692039489746, "test/mse": 1.195352554321289,
         "test/mae": 0.9024941921234131, "test/r2": -0.15442490577697754,
         "test/loss": 1.195352554321289},
        {"epoch": 2, "train/loss_epoch": 11.15356731414795, "test/mse": 1.3361420631408691,
         "test/mae": 0.9507170915603638, "test/r2": -0.2903939485549927,
         "test/loss": 1.3361419439315796}],
    ("task=digits", "loss=ce", "task.label_noise=0.2"): [
        {"epoch": 1, "train/loss_epoch": 1.9956248739491338, "test/accuracy": 0.8805555555555555,
         "test/loss": 1.3410252332687378},
        {"epoch": 2, "train/loss_epoch": 1.391099846881369, "test/accuracy": 0.9333333333333333,
         "test/loss": 0.7039880752563477}],
}


@pytest.mark.numerics
@pytest.mark.parametrize("overrides", list(BEFORE), ids=["regression", "digits"])
def test_val_fraction_zero_reproduces_the_history_from_before(make_cfg, tmp_path, overrides):
    record = run(make_cfg(*overrides, "seed=3", "task.val_fraction=0"), tmp_path)
    assert not any(k.startswith("val/") for h in record["history"] for k in h)
    # train/lr came later (the schedulers); everything that was there is unchanged.
    history = [{k: v for k, v in h.items() if k not in ("time_s", "train/lr")}
               for h in record["history"]]
    assert [list(h) for h in history] == [list(h) for h in BEFORE[overrides]]
    for got, want in zip(history, BEFORE[overrides], strict=True):
        assert_same_metrics(got, want)  # recorded on one CPU, rerun on another's kernels
    assert record["selected"] is None and record["data"]["n_val"] == 0


def entry(epoch: int, val: float, test: float, tag: str = "accuracy") -> dict[str, float]:
    return {"epoch": epoch, f"test/{tag}": test, "test/loss": 1.0 / epoch,
            f"val/{tag}": val, "val/loss": 0.5}


def test_selection_maximises_accuracy_and_reports_the_test_metrics_of_that_epoch():
    history = [entry(1, 0.70, 0.71), entry(2, 0.90, 0.80), entry(3, 0.85, 0.95)]
    assert _selected(history) == {"epoch": 2, "test/accuracy": 0.80, "test/loss": 0.5}


def test_selection_minimises_mse_skips_nan_and_prefers_the_earliest_tie():
    history = [entry(1, float("nan"), 0.1, "mse"), entry(2, 0.3, 0.5, "mse"),
               entry(3, 0.2, 0.6, "mse"), entry(4, 0.2, 0.4, "mse")]
    assert _selected(history)["epoch"] == 3


def test_without_validation_nothing_is_selected():
    assert _selected([{"epoch": 1, "test/accuracy": 0.5, "test/loss": 1.0}]) is None


def test_a_run_records_the_epoch_its_validation_metric_picked(make_cfg, tmp_path):
    record = run(make_cfg("task=digits", "loss=ce", "task.label_noise=0.6",
                          "trainer.max_epochs=4"), tmp_path)
    history = record["history"]
    best_val = max(h["val/accuracy"] for h in history)
    epoch = next(h["epoch"] for h in history if h["val/accuracy"] == best_val)
    chosen = history[epoch - 1]
    assert record["selected"] == {"epoch": epoch, "test/accuracy": chosen["test/accuracy"],
                                  "test/loss": chosen["test/loss"]}
    assert record["data"]["n_train"] + record["data"]["n_val"] == 1437
    assert {"val/accuracy", "val/loss"} <= set(record["final"])
