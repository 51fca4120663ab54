"""Synthetic linear regression whose training targets carry one-sided outliers.

Features and the true function are drawn as scikit-learn's make_regression draws them
(`make_regression` below repeats its draws one for one, so a run need not pay the
second that importing scikit-learn takes; tests/test_startup.py checks that the arrays
are the same), and the targets are scaled to unit variance. Training targets get
Gaussian noise and, for a fraction `outlier_fraction` of samples, a gross positive
error of about `outlier_scale` standard deviations (think of a saturated sensor). Test
targets are the noiseless truth, so test metrics measure how close the model got to
the real function. `n_train` is the pool the validation split is cut from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch
from omegaconf import MISSING, DictConfig

from lossbench import memory
from lossbench.contract import TaskData
from lossbench.errors import require
from lossbench.schema import Number
from tasks.base import TaskConfig

KIND = "regression"
N_OUTPUTS = 1
METRICS = ("mse", "mae", "r2")


Size = Annotated[int, Number(low=1, size=True)]


@dataclass
class Config(TaskConfig):
    """configs/task/regression.yaml"""

    n_train: Size = MISSING
    n_test: Size = MISSING
    n_features: Size = MISSING
    n_informative: Annotated[int, Number(low=1)] = MISSING
    noise: Annotated[float, Number(low=0)] = MISSING  # in target standard deviations
    outlier_fraction: Annotated[float, Number(0, 1, high_open=True, noun="a fraction")] = MISSING
    outlier_scale: Annotated[float, Number(low=0)] = MISSING


def check(cfg: DictConfig) -> None:
    """What Config cannot say: keys bounded by each other, and the data fitting in memory."""
    require(cfg.n_informative <= cfg.n_features, "task.n_informative", cfg.n_informative,
            f"an integer from 1 to task.n_features ({cfg.n_features})")
    # make_regression draws float64 features; they are copied once more into float32 tensors.
    sizes = {key: cfg[key] for key in ("n_train", "n_test", "n_features")}
    biggest = max(sizes, key=sizes.get)
    needed = 12 * (cfg.n_train + cfg.n_test) * cfg.n_features
    memory.require_fits(needed, f"task.{biggest}", sizes[biggest],
                        f"{cfg.n_train + cfg.n_test} samples of {cfg.n_features} features")


def make_regression(n_samples: int, n_features: int, n_informative: int,
                    random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's make_regression with its defaults (no bias, no noise, shuffled)."""
    rng = np.random.RandomState(random_state)
    x = rng.standard_normal(size=(n_samples, n_features))
    truth = np.zeros((n_features, 1))
    truth[:n_informative, :] = 100 * rng.uniform(size=(n_informative, 1))
    y = x @ truth
    rows = np.arange(n_samples)  # sklearn.utils.shuffle: one permutation of the rows …
    rng.shuffle(rows)
    x, y = x[rows], y[rows]
    columns = np.arange(n_features)  # … then one of the features
    rng.shuffle(columns)
    return x[:, columns], np.squeeze(y)


def push_outliers(y: np.ndarray, fraction: float, scale: float, rng: np.random.Generator
                  ) -> np.ndarray:
    """Push round(fraction · len(y)) targets, drawn by `rng`, up by about `scale` (in place);
    the mask of the ones pushed. tasks/sklearn_data.py corrupts diabetes the same way."""
    n_out = round(fraction * len(y))
    chosen = rng.choice(len(y), size=n_out, replace=False)
    y[chosen] += scale * rng.uniform(0.5, 1.5, size=n_out)
    mask = np.zeros(len(y), dtype=bool)
    mask[chosen] = True
    return mask


def build(cfg: DictConfig) -> TaskData:
    n = cfg.n_train + cfg.n_test
    x, y = make_regression(n_samples=n, n_features=cfg.n_features,
                           n_informative=cfg.n_informative, random_state=cfg.data_seed)
    y = y / y.std()
    rng = np.random.default_rng(cfg.data_seed)
    x_train, x_test = x[: cfg.n_train], x[cfg.n_train :]
    y_train = y[: cfg.n_train] + cfg.noise * rng.standard_normal(cfg.n_train)
    clean = y_train.copy()  # measurement noise is the data; the outliers are the corruption
    corrupted = push_outliers(y_train, cfg.outlier_fraction, cfg.outlier_scale, rng)
    n_out = int(corrupted.sum())

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.float32)

    return TaskData(
        kind=KIND, n_outputs=N_OUTPUTS, input_shape=(cfg.n_features,),
        x_train=tensor(x_train), y_train=tensor(y_train),
        x_test=tensor(x_test), y_test=tensor(y[cfg.n_train :]),
        corrupted=torch.as_tensor(corrupted), info={"outlier_fraction": n_out / cfg.n_train},
        clean_y_train=tensor(clean), corruption="outlier_fraction",
    )
