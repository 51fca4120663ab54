"""A two-class subset of MNIST (or Fashion-MNIST): `positive` digits vs `negative` digits.

The default pair, 4 vs 9, is among the most confused in MNIST, so losses differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
from omegaconf import MISSING, DictConfig

from lossbench.schema import Items, Number, OneOf
from tasks import fashion_mnist, idx, mnist, noise
from tasks.base import TaskConfig, TaskData, require

KIND = "binary"
N_OUTPUTS = 1
METRICS = ("accuracy", "auc")
SOURCES = {"mnist": mnist, "fashion_mnist": fashion_mnist}


Digits = Annotated[list[int], Items(Number(0, 9), min_len=1, unique=True, noun="digits 0-9")]


@dataclass
class Config(noise.LabelNoise, idx.ImageFiles, TaskConfig):
    """configs/task/mnist_binary.yaml"""

    source: Annotated[str, OneOf(tuple(SOURCES))] = MISSING
    positive: Digits = MISSING
    negative: Digits = MISSING


def check(cfg: DictConfig) -> None:
    """What the schema cannot say: the two classes share no digit."""
    overlap = sorted(set(cfg.positive) & set(cfg.negative))
    require(not overlap, "task.negative", list(cfg.negative),
            f"digits {overlap} are also in task.positive; the two lists must not overlap")


def _subset(x: torch.Tensor, y: torch.Tensor, cfg: DictConfig) -> tuple[torch.Tensor, ...]:
    pos = torch.isin(y, torch.tensor(list(cfg.positive)))
    keep = pos | torch.isin(y, torch.tensor(list(cfg.negative)))
    return x[keep], pos[keep].long()


def build(cfg: DictConfig) -> TaskData:
    source = SOURCES[cfg.source]
    full = source.load(cfg)  # clean labels: noise is drawn on the binary ones
    x_train, y_train = _subset(full.x_train, full.y_train, cfg)
    x_test, y_test = _subset(full.x_test, full.y_test, cfg)
    return noise.apply(TaskData(
        kind=KIND, n_outputs=N_OUTPUTS, input_shape=full.input_shape,
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        corrupted=y_train.new_zeros(len(y_train), dtype=bool),
        prepare=idx.normaliser(source.MEAN, source.STD),
    ), cfg)
