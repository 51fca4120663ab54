"""MNIST: 70,000 handwritten digits, 10 classes, read through torchvision."""

from __future__ import annotations

from omegaconf import DictConfig

from tasks import idx, noise
from tasks.base import TaskData

KIND = "multiclass"
N_OUTPUTS = 10
METRICS = ("accuracy",)
MEAN, STD = 0.1307, 0.3081  # the training set's pixel statistics


def check(cfg: DictConfig) -> None:
    noise.check(cfg)


def build(cfg: DictConfig) -> TaskData:
    return noise.apply(load(cfg), cfg)


def load(cfg: DictConfig) -> TaskData:
    """The dataset with its labels as published."""
    from torchvision.datasets import MNIST

    x_train, y_train, x_test, y_test = idx.load(MNIST, cfg.data_dir, cfg.download)
    return TaskData(
        kind=KIND, n_outputs=N_OUTPUTS, input_shape=(1, 28, 28),
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        corrupted=y_train.new_zeros(len(y_train), dtype=bool),
        prepare=idx.normaliser(MEAN, STD),
    )
