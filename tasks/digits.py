"""scikit-learn's 8×8 handwritten digits: 1,797 real images, 10 classes, always offline.

The UCI optical-recognition digits that ship inside scikit-learn
(`load_digits`): each pixel counts the ink in a 4×4 block of a 32×32 bitmap,
0 to 16. The test split is stratified and drawn from `task.data_seed`, so a
seed gives every loss the same split.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch
from omegaconf import MISSING, DictConfig

from lossbench.contract import TaskData
from lossbench.schema import Number
from tasks.base import TaskConfig

KIND = "multiclass"
N_OUTPUTS = 10
METRICS = ("accuracy",)
N_IMAGES = 1797
MEAN, STD = 0.3053, 0.3760  # pixel statistics of all images, scaled to [0, 1]


@dataclass
class Config(TaskConfig):
    """configs/task/digits.yaml (and label noise, as for every classification task)."""

    # Both sides of a stratified split need at least one image of each class:
    # ceil(f · N_IMAGES) test images, from N_OUTPUTS to N_IMAGES − N_OUTPUTS.
    test_fraction: Annotated[float, Number(
        (N_OUTPUTS - 1) / N_IMAGES, (N_IMAGES - N_OUTPUTS) / N_IMAGES, low_open=True,
        text=f"a fraction that leaves at least {N_OUTPUTS} of the {N_IMAGES} images on each side",
    )] = MISSING


def check(cfg: DictConfig) -> None:
    pass  # Config says it all


def prepare(x: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 8, 8) in 0..16 → float (B, 1, 8, 8), standardised."""
    return (x.unsqueeze(1).float() / 16.0 - MEAN) / STD


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images and labels. scikit-learn parses its CSV on every call (about 20 ms),
    which a sweep run in one process would pay once per run; the arrays are read-only."""
    # Imported here: scikit-learn takes about a second to import, and only this task needs it.
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    images = x.reshape(-1, 8, 8).astype(np.uint8)
    images.flags.writeable = y.flags.writeable = False
    return images, y


def build(cfg: DictConfig) -> TaskData:
    from sklearn.model_selection import train_test_split

    images, y = _digits()
    x_train, x_test, y_train, y_test = train_test_split(
        images, y, test_size=cfg.test_fraction, stratify=y, random_state=cfg.data_seed)
    y_train, y_test = torch.as_tensor(y_train).long(), torch.as_tensor(y_test).long()
    return TaskData(
        kind=KIND, n_outputs=N_OUTPUTS, input_shape=(1, 8, 8),
        x_train=torch.as_tensor(x_train), y_train=y_train,
        x_test=torch.as_tensor(x_test), y_test=y_test,
        corrupted=torch.zeros(len(y_train), dtype=torch.bool), prepare=prepare,
    )
