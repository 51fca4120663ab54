"""task=table: the user's own table (tasks/table_files.py reads CSV, Parquet, .npy, .npz).

Its kind is the file's: `task.kind=auto` infers it from the target column (text or
integers with 2 values: binary; 3 to MAX_CLASSES values: multiclass; numbers that are
not all integers: regression; anything else asks for task.kind), and logs it. So
`TABLE.KIND` is None, and `tasks.get("table", cfg.task)` answers the task that config
describes (`resolved`): the checks, the trainer and the objective ask that one.

The test part is `task.test_path` or a `task.test_fraction` split drawn from
`task.data_seed` (stratified for classes). Features are standardised with the training
part's statistics, and regression targets too; their metrics are scaled back
(TaskData.target_scale), so mse and mae are in the target's units. Label noise,
outliers (`task.outlier_fraction`, as diabetes), the validation split and the sweeps
work as for the built-in tables.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from omegaconf import OmegaConf

from lossbench.contract import Kind, TaskData
from lossbench.errors import UserError, require
from lossbench.schema import OneOf, Text
from tasks import table_files
from tasks.sklearn_data import OutlierTableConfig, standardised
from tasks.validation import require_test_split, split_indices

MAX_CLASSES = 50  # more distinct integers than this are as likely a count as a class
METRICS: dict[str, tuple[str, ...]] = {"regression": ("mse", "mae", "r2"),
                                       "binary": ("accuracy", "auc"), "multiclass": ("accuracy",)}
log = logging.getLogger("lossbench")


@dataclass
class Config(OutlierTableConfig):
    """configs/task/table.yaml."""

    path: Annotated[str | None, Text("a .csv, .parquet, .npy or .npz file")] = None
    target: Annotated[str | None, Text("a column name (a .npy column's index)")] = None
    kind: Annotated[str, OneOf(("auto", "regression", "binary", "multiclass"))] = "auto"
    features: list[str] | None = None
    test_path: Annotated[str | None, Text("a file like task.path's")] = None
    dropna: bool = False


def _key(cfg: Any) -> tuple:
    """What the data depends on, with each file's size and time: an edit is read again."""
    def stat(path: str | None) -> tuple:
        return (path, *((os.stat(path).st_size, os.stat(path).st_mtime_ns)
                        if path and os.path.isfile(path) else ()))
    features = OmegaConf.to_container(cfg.features) if cfg.features is not None else None
    return (stat(cfg.path), stat(cfg.test_path), cfg.target, tuple(features or ()) or None,
            cfg.kind, cfg.dropna)


class TableTask:
    """Unresolved (KIND None) as the registry holds it; resolved, one file's task."""

    Config = Config

    def __init__(self, kind: Kind | None = None, classes: list[Any] | None = None,
                 train: table_files.Table | None = None,
                 test: table_files.Table | None = None) -> None:
        self.KIND, self.classes, self.train, self.test = kind, classes or [], train, test
        self.N_OUTPUTS = len(self.classes) if kind == "multiclass" else 1
        self.METRICS = METRICS.get(kind or "", ())

    def resolved(self, cfg: Any) -> TableTask:
        require(cfg.path is not None, "task.path", None, "a .csv, .parquet, .npy or .npz "
                "file (task=table task.path=<file> task.target=<column>)")
        # Checked here, not only in check(): train.py resolves the task before it claims a run
        # dir, so a file that cannot be split leaves nothing behind either.
        task = _resolve(_key(cfg))
        task.check(cfg)
        return task

    def check(self, cfg: Any) -> None:
        if self.KIND is None:
            self.resolved(cfg)
            return
        where = f"column {self.train.target!r} of {self.train.path}"
        if self.KIND == "regression":
            require(cfg.label_noise == 0, "task.label_noise", cfg.label_noise,
                    f"0 for the regression target {where} (task.outlier_fraction corrupts it)")
            return
        require(cfg.outlier_fraction == 0, "task.outlier_fraction", cfg.outlier_fraction,
                f"0 for the {self.KIND} target {where} (task.label_noise corrupts it)")
        # Each class on each side of every split: test (unless a file), validation, training.
        need = (0 if self.test is not None else 1) + (2 if cfg.val_fraction > 0 else 1)
        y = _labels(self.train.y, self.classes, self.train)
        labels, counts = np.unique(y, return_counts=True)
        if counts.min() < need:
            fewer = cfg.val_fraction > 0 and counts.min() == need - 1  # enough without val
            raise UserError(f"task.path={self.train.path!r} is not valid: class "
                            f"{self.classes[labels[counts.argmin()]]!r} of {where} has "
                            f"{counts.min()} sample(s), and the splits need at least {need} "
                            "of each class (drop its rows"
                            + (", or set task.val_fraction=0)" if fewer else ")"))
        if self.test is None:
            require_test_split(cfg.test_fraction, len(self.train.y), len(self.classes),
                               f"rows of {self.train.path}", " of the stratified split")

    def build(self, cfg: Any) -> TaskData:
        if self.KIND is None:
            return self.resolved(cfg).build(cfg)
        y = _labels(self.train.y, self.classes, self.train)
        if self.test is None:
            train, test = split_indices(len(y), cfg.test_fraction, cfg.data_seed,
                                        None if self.KIND == "regression" else y)
            x_train, x_test, y_train, y_test = self.train.x[train], self.train.x[test], \
                y[train], y[test]
        else:
            x_train, y_train, x_test = self.train.x, y, self.test.x
            y_test = _labels(self.test.y, self.classes, self.test)
        built = standardised(self.KIND, self.N_OUTPUTS, x_train, x_test, y_train, y_test, cfg)
        if self.KIND != "regression":
            return built
        return dataclasses.replace(built, target_scale=float(y_train.std()))


def _labels(y: np.ndarray, classes: list[Any], table: table_files.Table) -> np.ndarray:
    """Class indices of `y` (the regression targets as float64 when there are no classes)."""
    if not classes:
        return y.astype(np.float64)
    index = {c: i for i, c in enumerate(classes)}
    unknown = [v for v in y if _plain(v) not in index]
    if unknown:
        raise UserError(f"task.test_path={table.path!r} is not valid: column {table.target!r} "
                        f"holds {unknown[0]!r}, a class the training file does not have")
    return np.array([index[_plain(v)] for v in y], dtype=np.int64)


def _plain(value: Any) -> Any:
    """1, 1.0 and np.int64(1) are one class; text stays text."""
    if isinstance(value, (int, float, np.number)) and float(value) == int(value):
        return int(value)
    return str(value)


def infer(table: table_files.Table, kind: str) -> tuple[Kind, list[Any]]:
    """The target's kind and, for classes, their sorted values (index = label)."""
    y, where = table.y, f"column {table.target!r} of {table.path}"
    numeric = y.dtype.kind in "biuf"
    whole = numeric and bool(np.all(np.mod(y.astype(np.float64), 1) == 0))
    if kind == "regression" or (kind == "auto" and numeric and not whole):
        require(numeric, "task.kind", kind, f"binary or multiclass: {where} holds text "
                f"({y[0]!r}), not numbers")
        return "regression", []
    if numeric and not whole:
        example = next(v for v in y.astype(np.float64) if v % 1)
        raise UserError(f"task.kind={kind!r} is not valid: regression: {where} holds numbers "
                        f"that are not class labels ({example:g})")
    classes = sorted({_plain(v) for v in y}, key=lambda c: (isinstance(c, str), c))
    require(len(classes) >= 2, "task.target", table.target, f"a column with at least 2 "
            f"classes: {where} holds one class only ({classes[0]!r})")
    if kind == "auto":
        require(len(classes) <= MAX_CLASSES, "task.kind", kind, f"regression or multiclass: "
                f"{where} holds {len(classes)} distinct values; say which it is")
        kind = "binary" if len(classes) == 2 else "multiclass"
    require(kind != "binary" or len(classes) == 2, "task.kind", kind,
            f"multiclass: {where} holds {len(classes)} classes")
    return kind, classes  # type: ignore[return-value]


@functools.cache
def _resolve(key: tuple) -> TableTask:
    (path, *_), (test_path, *_), target, features, kind, dropna = key
    table = table_files.read(path, target, list(features) if features else None, dropna)
    test = None if test_path is None else table_files.read(
        test_path, table.target, table.features, dropna)
    found, classes = infer(table, kind)
    shown = f"{len(classes)} classes: {', '.join(map(str, classes[:10]))}" if classes else \
        "numbers"
    log.info(f"task=table: {path}: {len(table.y)} rows, {len(table.features)} features, "
             f"target {table.target!r} is {found} ({shown})"
             + (f"; task.dropna dropped {table.dropped} rows with NaN or inf" if table.dropped
                else ""))
    return TableTask(found, classes, table, test)


TABLE = TableTask()
