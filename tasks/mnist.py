"""MNIST: 70,000 handwritten digits, 10 classes, read through torchvision."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from tasks import idx, noise
from tasks.base import TaskConfig, TaskData

KIND = "multiclass"
N_OUTPUTS = 10
METRICS = ("accuracy",)
MEAN, STD = 0.1307, 0.3081  # the training set's pixel statistics


@dataclass
class Config(noise.LabelNoise, idx.ImageFiles, TaskConfig):
    """configs/task/mnist.yaml"""


def build(cfg: DictConfig) -> TaskData:
    return noise.apply(load(cfg), cfg)


def load(cfg: DictConfig) -> TaskData:
    """The dataset with its labels as published."""
    return idx.task_data("MNIST", cfg, MEAN, STD)
