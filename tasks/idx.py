"""MNIST-format datasets read through torchvision into uint8 tensors.

torchvision stays the reader and downloader; this module only finds the four
IDX files, turns every failure into one sentence that names the file, and
normalises images per batch on the device.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import torch
from torchvision.datasets import mnist as tv_mnist
from torchvision.datasets.utils import extract_archive

from tasks.base import UserError

IMAGE_FILES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")
LABEL_FILES = ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")
FILES = (IMAGE_FILES[0], LABEL_FILES[0], IMAGE_FILES[1], LABEL_FILES[1])


def debian_fashion_mnist_dir() -> Path | None:
    """Where Debian's dataset-fashion-mnist package put its files, if installed."""
    try:
        listing = subprocess.run(
            ["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        listing = []
    for path in [*listing, "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"]:
        if path.endswith("train-images-idx3-ubyte.gz") and os.path.isfile(path):
            return Path(path).parent
    return None


def _copy_in(source: Path, raw: Path) -> None:
    """Unpack a folder of .gz (or plain) IDX files into torchvision's raw folder."""
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (source / f"{name}.gz").is_file():
            extract_archive(str(source / f"{name}.gz"), str(raw))
        elif (source / name).is_file():
            shutil.copyfile(source / name, raw / name)


def _missing(raw: Path) -> list[str]:
    return [name for name in FILES if not (raw / name).is_file()]


def _read(path: Path, images: bool) -> torch.Tensor:
    reader = tv_mnist.read_image_file if images else tv_mnist.read_label_file
    try:
        return reader(str(path))
    except (AssertionError, RuntimeError, ValueError, TypeError, IndexError, KeyError) as err:
        kind = "image" if images else "label"
        detail = f" ({err})" if str(err) else ""
        raise UserError(
            f"{path} is not a valid IDX {kind} file: wrong magic number, wrong type or "
            f"truncated{detail}. Replace it with the original uncompressed file."
        ) from None
    except OSError as err:
        raise UserError(f"{path} cannot be read: {err.strerror}.") from None


def load(
    dataset: type[tv_mnist.MNIST], data_dir: str, download: bool, fallback: Path | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (x_train, y_train, x_test, y_test): images uint8 (N, 28, 28), labels int64."""
    root = Path(data_dir).expanduser()
    if root.exists() and not root.is_dir():
        raise UserError(f"task.data_dir={data_dir!r} is not a directory.")
    if root.is_dir() and not os.access(root, os.R_OK | os.X_OK):
        raise UserError(f"task.data_dir={data_dir!r} is not readable.")
    raw = root / dataset.__name__ / "raw"
    if _missing(raw) and fallback is not None:
        try:
            _copy_in(fallback, raw)
        except OSError as err:
            raise UserError(f"cannot copy {fallback} into {raw}: {err.strerror}.") from None
    failure = ""
    if _missing(raw) and download:
        try:
            dataset(str(root), train=True, download=True)
        except Exception as err:  # torchvision raises plain RuntimeError/URLError here
            failure = f"download failed ({type(err).__name__}); "
    if missing := _missing(raw):
        hint = "" if download else ", or set task.download=true on a machine with network"
        raise UserError(
            f"{failure}{dataset.__name__} files missing in {raw}: put the four uncompressed IDX "
            f"files {', '.join(FILES)} there (missing: {', '.join(missing)}){hint}."
        )
    x_train, x_test = (_read(raw / name, images=True) for name in IMAGE_FILES)
    y_train, y_test = (_read(raw / name, images=False) for name in LABEL_FILES)
    for x, y, name in ((x_train, y_train, FILES[0]), (x_test, y_test, FILES[2])):
        if x.shape[0] != y.shape[0]:
            raise UserError(
                f"{raw / name} holds {x.shape[0]} images but its label file holds {y.shape[0]}."
            )
    return x_train, y_train.long(), x_test, y_test.long()


def normaliser(mean: float, std: float):
    """uint8 (B, H, W) → float (B, 1, H, W), scaled per batch on the device."""

    def prepare(x: torch.Tensor) -> torch.Tensor:
        return ((x.unsqueeze(1).float() / 255.0) - mean) / std

    return prepare
