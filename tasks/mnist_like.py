"""MNIST and Fashion-MNIST: 70,000 28×28 images in 10 classes each, in MNIST's IDX format.

MNIST is handwritten digits; Fashion-MNIST is clothing. When Fashion-MNIST's
files are missing it first copies them from Debian's dataset-fashion-mnist
package, the real dataset available offline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from lossbench.contract import Kind, TaskData
from tasks import idx


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
