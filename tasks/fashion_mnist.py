"""Fashion-MNIST: 70,000 clothing images, 10 classes, MNIST's format.

When its files are missing it first copies them from Debian's
dataset-fashion-mnist package, the real dataset available offline.
"""

from __future__ import annotations

from omegaconf import DictConfig

from tasks import idx, noise
from tasks.base import TaskData

KIND = "multiclass"
N_OUTPUTS = 10
METRICS = ("accuracy",)
MEAN, STD = 0.2860, 0.3530  # the training set's pixel statistics


def check(cfg: DictConfig) -> None:
    noise.check(cfg)


def build(cfg: DictConfig) -> TaskData:
    return noise.apply(load(cfg), cfg)


def load(cfg: DictConfig) -> TaskData:
    """The dataset with its labels as published."""
    from torchvision.datasets import FashionMNIST

    x_train, y_train, x_test, y_test = idx.load(
        FashionMNIST, cfg.data_dir, cfg.download, fallback=idx.debian_fashion_mnist_dir()
    )
    return TaskData(
        kind=KIND, n_outputs=N_OUTPUTS, input_shape=(1, 28, 28),
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        corrupted=y_train.new_zeros(len(y_train), dtype=bool),
        prepare=idx.normaliser(MEAN, STD),
    )
