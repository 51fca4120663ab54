"""A two-class subset of MNIST (or Fashion-MNIST): `positive` digits vs `negative` digits.

The default pair, 4 vs 9, is among the most confused in MNIST, so losses differ.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from lossbench.contract import TaskData
from lossbench.errors import is_int, require
from tasks import idx
from tasks.mnist_like import DATASETS

KIND = "binary"
N_OUTPUTS = 1
METRICS = ("accuracy", "auc")


def check(cfg: DictConfig) -> None:
    require(cfg.source in DATASETS, "task.source", cfg.source, f"one of {', '.join(DATASETS)}")
    for key in ("positive", "negative"):
        digits = list(cfg[key])
        ok = bool(digits) and all(is_int(d) and 0 <= d <= 9 for d in digits)
        require(ok, f"task.{key}", digits, "a non-empty list of digits 0-9")
    overlap = sorted(set(cfg.positive) & set(cfg.negative))
    require(not overlap, "task.negative", list(cfg.negative),
            f"digits {overlap} are also in task.positive; the two lists must not overlap")


def _subset(x: torch.Tensor, y: torch.Tensor, cfg: DictConfig) -> tuple[torch.Tensor, ...]:
    pos = torch.isin(y, torch.tensor(list(cfg.positive)))
    keep = pos | torch.isin(y, torch.tensor(list(cfg.negative)))
    return x[keep], pos[keep].long()


def build(cfg: DictConfig) -> TaskData:
    source = DATASETS[cfg.source]
    full = source.build(cfg)  # labels as published: noise is drawn on the binary ones
    x_train, y_train = _subset(full.x_train, full.y_train, cfg)
    x_test, y_test = _subset(full.x_test, full.y_test, cfg)
    return TaskData(
        kind=KIND, n_outputs=N_OUTPUTS, input_shape=full.input_shape,
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        corrupted=y_train.new_zeros(len(y_train), dtype=bool),
        prepare=idx.normaliser(source.mean, source.std),
    )
