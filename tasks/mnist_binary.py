"""A two-class subset of MNIST (or Fashion-MNIST): `positive` digits vs `negative` digits.

The default pair, 4 vs 9, is among the most confused in MNIST, so losses differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
from omegaconf import MISSING, DictConfig

from lossbench.contract import TaskData
from lossbench.errors import require
from lossbench.schema import Items, Number, OneOf
from tasks import idx
from tasks.mnist_like import DATASETS, ImageConfig

KIND = "binary"
N_OUTPUTS = 1
METRICS = ("accuracy", "auc")


Digits = Annotated[list[int], Items(Number(0, 9), min_len=1, unique=True, noun="digits 0-9")]


@dataclass
class Config(ImageConfig):
    """configs/task/mnist_binary.yaml (and label noise, as for every classification task)."""

    source: Annotated[str, OneOf(tuple(DATASETS))] = MISSING
    positive: Digits = MISSING
    negative: Digits = MISSING


def check(cfg: DictConfig) -> None:
    """What Config cannot say: the two classes share no digit."""
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
