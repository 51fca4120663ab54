"""Real tabular data that ships with scikit-learn (no files, no network): diabetes
(regression, 442 × 10), breast_cancer (binary, 569 × 30) and wine (multiclass, 178 × 13).

They put real regression and real binary data beside the synthetic regression task and the
image tasks. The test split is drawn from `task.data_seed` (stratified for classes), so a
seed gives every loss the same split. Features are standardised with the training part's
statistics only, and so are diabetes's targets: metrics are in units of the training
targets' standard deviation (77.0 disease-progression points over all 442 patients), as
for the synthetic task. Label noise (classification) and outliers (diabetes:
`task.outlier_fraction`, `task.outlier_scale`, as in tasks/regression.py) corrupt only the
training part; the test part stays as published.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import torch
from omegaconf import MISSING

from lossbench.contract import Kind, TaskData
from lossbench.schema import Number
from tasks.base import TaskConfig
from tasks.regression import push_outliers
from tasks.validation import require_test_split

Fraction = Annotated[float, Number(0, 1, low_open=True, high_open=True, noun="a fraction")]


@dataclass
class TableConfig(TaskConfig):
    """configs/task/breast_cancer.yaml and wine.yaml (and label noise, as for every
    classification task)."""

    test_fraction: Fraction = MISSING


@dataclass
class OutlierTableConfig(TableConfig):
    """configs/task/diabetes.yaml: a real regression, with outliers as tasks/regression.py adds
    them (a fraction of training targets pushed up by about outlier_scale standard
    deviations)."""

    outlier_fraction: Annotated[float, Number(0, 1, high_open=True, noun="a fraction")] = MISSING
    outlier_scale: Annotated[float, Number(low=0)] = MISSING


@functools.cache
def _load(loader: str) -> tuple[np.ndarray, np.ndarray]:
    """The data set's arrays, read-only and parsed once per process (scikit-learn parses
    its CSV on every call). Imported here: scikit-learn takes about a second to import."""
    import sklearn.datasets

    x, y = getattr(sklearn.datasets, loader)(return_X_y=True)
    x = np.asarray(x, dtype=np.float64)
    x.flags.writeable = False
    y = np.asarray(y)
    y.flags.writeable = False
    return x, y


@dataclass(frozen=True)
class SklearnTable:
    """One of scikit-learn's bundled tables as a task."""

    loader: str  # the sklearn.datasets function
    KIND: Kind
    N_OUTPUTS: int
    METRICS: tuple[str, ...]
    Config: type
    n_samples: int

    def check(self, cfg: Any) -> None:
        """Both sides of a stratified split need a sample of each class (regression: 2)."""
        least = 2 if self.KIND == "regression" else max(self.N_OUTPUTS, 2)
        require_test_split(cfg.test_fraction, self.n_samples, least, "samples")

    def build(self, cfg: Any) -> TaskData:
        from sklearn.model_selection import train_test_split

        x, y = _load(self.loader)
        stratify = None if self.KIND == "regression" else y
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=cfg.test_fraction, stratify=stratify, random_state=cfg.data_seed)
        return standardised(self.KIND, self.N_OUTPUTS, x_train, x_test, y_train, y_test, cfg)


def standardised(kind: Kind, n_outputs: int, x_train: np.ndarray, x_test: np.ndarray,
                 y_train: np.ndarray, y_test: np.ndarray, cfg: Any) -> TaskData:
    """A table's split as TaskData: features scaled by the training part's statistics, class
    targets as indices, regression targets through _with_outliers."""
    mean, std = x_train.mean(0), x_train.std(0)
    std[std == 0] = 1.0  # a constant column stays 0 instead of dividing by 0

    def features(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((a - mean) / std, dtype=torch.float32)

    data = dict(kind=kind, n_outputs=n_outputs, input_shape=(x_train.shape[1],),
                x_train=features(x_train), x_test=features(x_test))
    if kind != "regression":
        return TaskData(**data, y_train=torch.as_tensor(y_train).long(),
                        y_test=torch.as_tensor(y_test).long(),
                        corrupted=torch.zeros(len(y_train), dtype=torch.bool))
    return _with_outliers(data, y_train, y_test, cfg)


def _with_outliers(data: dict, y_train: np.ndarray, y_test: np.ndarray, cfg: Any) -> TaskData:
    """Targets standardised by the training part; a fraction of training targets pushed up."""
    centre, scale = y_train.mean(), y_train.std()
    y_train, y_test = (y_train - centre) / scale, (y_test - centre) / scale
    clean = y_train.copy()
    rng = np.random.default_rng(cfg.data_seed)
    corrupted = push_outliers(y_train, cfg.outlier_fraction, cfg.outlier_scale, rng)
    n_out = int(corrupted.sum())

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.float32)

    return TaskData(**data, y_train=tensor(y_train), y_test=tensor(y_test),
                    corrupted=torch.as_tensor(corrupted), clean_y_train=tensor(clean),
                    info={"outlier_fraction": n_out / len(y_train)},
                    corruption="outlier_fraction")


DIABETES = SklearnTable("load_diabetes", "regression", 1, ("mse", "mae", "r2"),
                        OutlierTableConfig, 442)
BREAST_CANCER = SklearnTable("load_breast_cancer", "binary", 1, ("accuracy", "auc"),
                             TableConfig, 569)
WINE = SklearnTable("load_wine", "multiclass", 3, ("accuracy",), TableConfig, 178)
