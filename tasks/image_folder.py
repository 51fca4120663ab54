"""task=image_folder: the user's images in torchvision's ImageFolder layout, one folder per class.

    <task.root>/cat/001.png, <task.root>/dog/xyz.jpg, ...

Class indices follow the folders' sorted names, as ImageFolder's. Each image is resized to
`task.image_size` square and kept as uint8, like the MNIST tasks: grayscale (N, H, W) or RGB
(N, 3, H, W), as `task.color` says (auto: grayscale when every image is). Scaled on the
device per batch with the training part's pixel mean and standard deviation. The test part
is a `task.test_fraction` split drawn from `task.data_seed`, stratified by class. The number
of classes is the folder's, so N_OUTPUTS is known once `resolved(cfg)` has looked.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
import torch

from lossbench import memory
from lossbench.contract import Kind, TaskData
from lossbench.errors import UserError, require
from lossbench.schema import Number, OneOf, Text
from tasks.base import TaskConfig
from tasks.sklearn_data import Fraction
from tasks.validation import require_test_split, split_indices

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass
class Config(TaskConfig):
    """configs/task/image_folder.yaml (and label noise, as for every classification task)."""

    root: Annotated[str | None, Text("a folder with one sub-folder of images per class")] = None
    image_size: Annotated[int, Number(1, 1024)] = 32
    color: Annotated[str, OneOf(("auto", "gray", "rgb"))] = "auto"
    test_fraction: Fraction = 0.2


@dataclass(frozen=True)
class ImageFolder:
    classes: tuple[str, ...] = ()
    files: tuple[tuple[Path, int], ...] = ()

    KIND: ClassVar[Kind] = "multiclass"
    METRICS: ClassVar[tuple[str, ...]] = ("accuracy",)
    Config: ClassVar[type] = Config

    @property
    def N_OUTPUTS(self) -> int:  # the Task contract asks for it by this name
        return len(self.classes)

    def resolved(self, cfg: Any) -> ImageFolder:
        """The folder's classes and files: refused in one line when it has fewer than two."""
        task = _scan(cfg.root)
        task.check(cfg)  # here too: train.py resolves the task before it claims a run dir
        return task

    def check(self, cfg: Any) -> None:
        if not self.classes:
            self.resolved(cfg)
            return
        need = 1 + (2 if cfg.val_fraction > 0 else 1)  # test, and training (+ validation)
        counts = np.bincount([c for _, c in self.files], minlength=len(self.classes))
        if counts.min() < need:
            raise UserError(f"task.root={cfg.root!r} is not valid: class folder "
                            f"{self.classes[int(counts.argmin())]!r} holds {counts.min()} "
                            f"image(s); the splits need at least {need} of each class")
        n = len(self.files)
        require_test_split(cfg.test_fraction, n, len(self.classes), "images")
        channels = 3 if cfg.color == "rgb" else 1
        memory.require_fits(2 * n * channels * cfg.image_size ** 2, "task.image_size",
                            cfg.image_size, f"{n} images of {channels}×{cfg.image_size}²")

    def build(self, cfg: Any) -> TaskData:
        if not self.classes:
            return self.resolved(cfg).build(cfg)
        images, gray = _read(self.files, cfg.image_size, cfg.color)
        x = torch.as_tensor(images)
        y = torch.tensor([c for _, c in self.files], dtype=torch.long)
        train, test = (torch.as_tensor(i) for i in split_indices(
            len(y), cfg.test_fraction, cfg.data_seed, y.numpy()))
        pixels = x[train].double() / 255
        mean, std = float(pixels.mean()), float(pixels.std()) or 1.0
        shape = (1 if gray else 3, cfg.image_size, cfg.image_size)
        return TaskData(kind="multiclass", n_outputs=len(self.classes), input_shape=shape,
                        x_train=x[train], y_train=y[train], x_test=x[test], y_test=y[test],
                        corrupted=torch.zeros(len(train), dtype=torch.bool),
                        prepare=_scaler(mean, std, gray))


@functools.cache
def _scan(root: str | None) -> ImageFolder:
    require(root is not None, "task.root", root, "a folder with one sub-folder of images per "
            "class (task=image_folder task.root=<folder>)")
    folder = Path(root)
    require(folder.is_dir(), "task.root", root, "an existing folder (not found)")
    classes = sorted(p.name for p in folder.iterdir()
                     if p.is_dir() and any(f.suffix.lower() in SUFFIXES for f in p.iterdir()))
    require(len(classes) > 0, "task.root", root, "a folder with one sub-folder of images "
            f"({', '.join(sorted(SUFFIXES))}) per class; it has no such sub-folder")
    require(len(classes) >= 2, "task.root", root, f"a folder with at least 2 class folders; "
            f"it has one only ({classes[0]})")
    files = tuple((f, c) for c, name in enumerate(classes)
                  for f in sorted((folder / name).iterdir()) if f.suffix.lower() in SUFFIXES)
    return ImageFolder(tuple(classes), files)


def _read(files: tuple[tuple[Path, int], ...], size: int, color: str
          ) -> tuple[np.ndarray, bool]:
    """Every image as uint8, resized; gray: (N, H, W), else (N, 3, H, W)."""
    from PIL import Image, UnidentifiedImageError

    loaded = []
    for path, _ in files:
        try:
            with Image.open(path) as image:
                loaded.append(image.copy())
        except (OSError, UnidentifiedImageError) as err:
            raise UserError(f"task.root is not valid: {path} cannot be read as an image "
                            f"({type(err).__name__})") from None
    gray = color == "gray" or (color == "auto" and all(i.mode in ("1", "L", "LA", "I;16", "I")
                                                       for i in loaded))
    mode = "L" if gray else "RGB"
    arrays = [np.asarray(i.convert(mode).resize((size, size), Image.BILINEAR), dtype=np.uint8)
              for i in loaded]
    stacked = np.stack(arrays)
    return (stacked if gray else stacked.transpose(0, 3, 1, 2).copy()), gray


def _scaler(mean: float, std: float, gray: bool) -> Any:
    """uint8 → float, (x / 255 − mean) / std, per batch on the device; gray gains its channel."""
    scale, shift = 1.0 / (255.0 * std), -mean / std

    def prepare(x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(1) if gray else x
        return x.to(torch.float32, copy=True).mul_(scale).add_(shift)

    return prepare


IMAGE_FOLDER = ImageFolder()
