"""Fashion-MNIST: 70,000 clothing images, 10 classes, MNIST's format.

When its files are missing it first copies them from Debian's
dataset-fashion-mnist package, the real dataset available offline.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from tasks import idx, noise
from tasks.base import TaskConfig, TaskData

KIND = "multiclass"
N_OUTPUTS = 10
METRICS = ("accuracy",)
MEAN, STD = 0.2860, 0.3530  # the training set's pixel statistics


@dataclass
class Config(noise.LabelNoise, idx.ImageFiles, TaskConfig):
    """configs/task/fashion_mnist.yaml"""


def build(cfg: DictConfig) -> TaskData:
    return noise.apply(load(cfg), cfg)


def load(cfg: DictConfig) -> TaskData:
    """The dataset with its labels as published."""
    return idx.task_data("FashionMNIST", cfg, MEAN, STD, fallback=idx.debian_fashion_mnist_dir())
