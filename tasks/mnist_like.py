"""MNIST and Fashion-MNIST: 70,000 28×28 images in 10 classes each, in MNIST's IDX format.

MNIST is handwritten digits; Fashion-MNIST is clothing. When Fashion-MNIST's
files are missing it first copies them from Debian's dataset-fashion-mnist
package, the real dataset available offline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

from omegaconf import MISSING

from lossbench.contract import Kind, TaskData
from lossbench.schema import Text
from tasks import idx
from tasks.base import TaskConfig


@dataclass
class ImageConfig(TaskConfig):
    """configs/task/mnist.yaml and fashion_mnist.yaml (and label noise, as for every
    classification task); mnist_binary adds its own keys."""

    data_dir: Annotated[str, Text("a folder: a torchvision dataset root")] = MISSING
    download: bool = MISSING


@dataclass(frozen=True)
class MnistLike:
    """A ten-class image task from an MNIST-format dataset, labels as published."""

    dataset: str  # torchvision's dataset class, and the folder under task.data_dir
    mean: float  # the training set's pixel statistics
    std: float
    fallback: Callable[[], Path | None] = lambda: None  # where to copy missing files from

    KIND: ClassVar[Kind] = "multiclass"
    N_OUTPUTS: ClassVar[int] = 10
    METRICS: ClassVar[tuple[str, ...]] = ("accuracy",)
    Config: ClassVar[type] = ImageConfig

    def check(self, cfg: Any) -> None:
        pass  # data_dir and download are checked when the files are read

    def build(self, cfg: Any) -> TaskData:
        # The fallback is looked up only when files are missing (Debian's costs a dpkg call).
        return idx.task_data(self.dataset, cfg, self.mean, self.std, fallback=self.fallback)


MNIST = MnistLike("MNIST", 0.1307, 0.3081)
FASHION_MNIST = MnistLike("FashionMNIST", 0.2860, 0.3530,
                          fallback=lambda: idx.debian_fashion_mnist_dir())  # looked up per call
# By the names task.source (mnist_binary) and the benchmark scripts give them.
DATASETS = {"mnist": MNIST, "fashion_mnist": FASHION_MNIST}
