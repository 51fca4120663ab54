"""The validation split every task gets, carved here once rather than in each task.

`task.val_fraction` of the training data (0 turns validation off) is held out,
drawn from `task.data_seed`, so every loss and every seed that shares the data
seed gets the same split. Classification splits are stratified on the labels
as published, so the split does not move when the label noise changes. The
validation part carries the training data's corruption (flipped labels,
outliers), as a user's own held-out data would; `task.val_clean=true` gives it
the targets from before the corruption instead. The test set is never touched.
`tasks.get` wraps every task in `tasks.Extended` with `SplitConfig` and `carve`, so no task
carves the split by hand.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch
from omegaconf import MISSING, DictConfig

from lossbench.contract import TaskData
from lossbench.errors import UserError, require
from lossbench.schema import Number


@dataclass
class SplitConfig:
    """The validation keys every task's config has; sizes are checked in `carve`."""

    val_fraction: Annotated[float, Number(
        0, 1, high_open=True, text="a fraction in [0, 1); 0 turns validation off")] = MISSING
    val_clean: bool = MISSING


def split_indices(n: int, fraction: float, seed: int, labels: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices into `n` samples, each sorted; stratified when labelled.

    The same split as scikit-learn's `train_test_split(range(n), test_size=fraction,
    random_state=seed, stratify=labels)`, draw for draw (tests/test_validation.py checks
    it): importing scikit-learn costs about a second, which no MNIST-like or regression run
    pays otherwise.
    """
    check_size(n, fraction, labels)
    n_val = math.ceil(fraction * n)
    rng = np.random.RandomState(seed)  # scikit-learn's check_random_state(int)
    if labels is None:
        val = rng.permutation(n)[:n_val]  # ShuffleSplit
    else:
        val = _stratified(labels, n - n_val, n_val, rng)
    held = np.zeros(n, dtype=bool)
    held[val] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def _stratified(labels: np.ndarray, n_train: int, n_val: int, rng: np.random.RandomState
                ) -> np.ndarray:
    """StratifiedShuffleSplit's validation indices: each class's share, rounded as it does."""
    _, y = np.unique(labels, return_inverse=True)
    counts = np.bincount(y)
    members = np.split(np.argsort(y, kind="mergesort"), np.cumsum(counts)[:-1])
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_val, rng)
    val = [members[c].take(rng.permutation(counts[c]), mode="clip")[n_i[c]: n_i[c] + t_i[c]]
           for c in range(len(counts))]
    return np.concatenate(val)


def _approximate_mode(counts: np.ndarray, n_draws: int, rng: np.random.RandomState
                      ) -> np.ndarray:
    """Per class, its share of `n_draws` rounded down; what is left goes to the largest
    remainders, ties drawn at random (scikit-learn's `_approximate_mode`)."""
    continuous = counts / counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    remainder = continuous - floored
    for value in np.sort(np.unique(remainder))[::-1]:
        if need <= 0:
            break
        (tied,) = np.where(remainder == value)
        add = min(len(tied), need)
        floored[rng.choice(tied, size=add, replace=False)] += 1
        need -= add
    return floored.astype(int)


def require_test_split(fraction: float, n: int, least: int, things: str, after: str = "") -> None:
    """`task.test_fraction` of `n` rows leaves at least `least` on each side (a class each,
    for a stratified split)."""
    n_test = math.ceil(fraction * n)  # scikit-learn's rounding for a fractional test_size
    require(least <= n_test <= n - least, "task.test_fraction", fraction,
            f"a fraction that leaves at least {least} of the {n} {things} on each side{after}")


def check_size(n: int, fraction: float, labels: np.ndarray | None) -> None:
    """Both sides must hold every class (stratified) or enough samples to score (regression)."""
    n_val = math.ceil(fraction * n)  # scikit-learn's rounding for a fractional test_size
    if labels is None:
        ok = n_val >= 2 and n - n_val >= 1  # R² needs two validation samples
        require(ok, "task.val_fraction", fraction,
                f"0, or a fraction that holds out at least 2 of the {n} training samples "
                "and keeps at least 1 for training")
        return
    classes, counts = np.unique(labels, return_counts=True)
    k = len(classes)
    require(k <= n_val <= n - k, "task.val_fraction", fraction,
            f"0, or a fraction that leaves at least {k} of the {n} training samples on each "
            f"side of the stratified split, one per class")
    if counts.min() < 2:
        raise UserError(f"task.val_fraction={fraction!r} cannot be stratified: class "
                        f"{classes[counts.argmin()]} has a single training sample; "
                        "set task.val_fraction=0.")


def carve(data: TaskData, cfg: DictConfig) -> TaskData:
    """`data` with its validation split taken out of the training part."""
    if cfg.val_fraction == 0:
        return data
    clean = data.y_train if data.clean_y_train is None else data.clean_y_train
    labels = None if data.kind == "regression" else clean.numpy()
    train, val = (torch.as_tensor(i) for i in
                  split_indices(len(data.y_train), cfg.val_fraction, cfg.data_seed, labels))
    info = dict(data.info)
    if data.corruption is not None:  # the realised shares, now of each part
        info[data.corruption] = float(data.corrupted[train].float().mean())
        info[f"val_{data.corruption}"] = 0.0 if cfg.val_clean else \
            float(data.corrupted[val].float().mean())
    y_val = (clean if cfg.val_clean else data.y_train)[val]
    return dataclasses.replace(
        data, x_train=data.x_train[train], y_train=data.y_train[train],
        corrupted=data.corrupted[train], x_val=data.x_train[val], y_val=y_val,
        clean_y_train=None if data.clean_y_train is None else data.clean_y_train[train],
        info=info,
    )
