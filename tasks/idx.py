"""MNIST-format datasets read through torchvision into uint8 tensors.

torchvision stays the reader and downloader; this module only finds the four
IDX files, turns every failure into one sentence that names the file, caches
the decoded tensors next to them, and normalises images per batch on the device.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lossbench import files
from lossbench.contract import TaskData
from lossbench.errors import UserError

IMAGE_FILES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")
LABEL_FILES = ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")
FILES = (IMAGE_FILES[0], LABEL_FILES[0], IMAGE_FILES[1], LABEL_FILES[1])
# Bump the version when what the cache holds changes; old files are then simply ignored.
CACHE_FILE = "lossbench-v1.pt"

Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


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
    from torchvision.datasets.utils import extract_archive

    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (source / f"{name}.gz").is_file():
            extract_archive(str(source / f"{name}.gz"), str(raw))
        elif (source / name).is_file():
            shutil.copyfile(source / name, raw / name)


def _missing(raw: Path) -> list[str]:
    return [name for name in FILES if not (raw / name).is_file()]


def read_idx(path: Path, images: bool) -> torch.Tensor:
    # torchvision (about 1.8 s to import) is needed only when the cache misses.
    from torchvision.datasets import mnist as tv_mnist

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


def stamp(raw: Path) -> list[list[int]]:
    """What identifies the raw files without reading them: size and mtime of each."""
    return [[(st := (raw / name).stat()).st_size, st.st_mtime_ns] for name in FILES]


def load_cache(path: Path, fingerprint: list[list[int]]) -> Tensors | None:
    """The cached tensors if the cache matches the raw files; None if stale or damaged."""
    try:
        blob = torch.load(path, weights_only=True)
        tensors = tuple(blob["tensors"])
        fresh = blob["stamp"] == fingerprint
    except Exception:  # missing, truncated, not ours: read the IDX files instead
        return None
    if not fresh or len(tensors) != 4 or not all(isinstance(t, torch.Tensor) for t in tensors):
        return None
    x_train, y_train, x_test, y_test = tensors
    ok = all(x.dtype == torch.uint8 and x.ndim == 3 and y.dtype == torch.int64 and y.ndim == 1
             and len(x) == len(y) for x, y in ((x_train, y_train), (x_test, y_test)))
    return (x_train, y_train, x_test, y_test) if ok else None


def save_cache(path: Path, fingerprint: list[list[int]], tensors: Tensors) -> None:
    """Written atomically, so parallel runs never read half a file."""
    try:
        path.parent.mkdir(exist_ok=True)
        with files.atomic_write(path) as f:
            torch.save({"stamp": fingerprint, "tensors": list(tensors)}, f)
    except (OSError, RuntimeError):  # read-only data dir, a full disk, `processed` a file:
        pass  # run uncached


Fallback = Path | Callable[[], Path | None] | None


def load(dataset: str, data_dir: str, download: bool, fallback: Fallback = None) -> Tensors:
    """Return (x_train, y_train, x_test, y_test): images uint8 (N, 28, 28), labels int64.

    `dataset` names a torchvision dataset class of MNIST's format ("MNIST",
    "FashionMNIST"): its raw folder, and its downloader when files are missing.
    `fallback` is a folder to copy missing files from, or a function that finds one
    (called only when files are missing: finding Debian's costs a `dpkg` call).
    """
    root = Path(data_dir).expanduser()
    try:  # a name too long, a file on the way, a link loop: said as a value, not a traceback
        root.stat()
    except FileNotFoundError:
        pass  # created by the download, or reported as missing files below
    except OSError as err:
        raise UserError(f"task.data_dir={data_dir!r} is not valid: {err.strerror}; set "
                        "task.data_dir (or LOSSBENCH_DATA) to a folder.") from None
    if root.exists() and not root.is_dir():
        raise UserError(f"task.data_dir={data_dir!r} is not a directory.")
    if root.is_dir() and not os.access(root, os.R_OK | os.X_OK):
        raise UserError(f"task.data_dir={data_dir!r} is not readable.")
    raw = root / dataset / "raw"
    if _missing(raw) and callable(fallback):
        fallback = fallback()
    if _missing(raw) and fallback is not None:
        try:
            _copy_in(fallback, raw)
        except OSError as err:
            raise UserError(f"cannot copy {fallback} into {raw}: {err.strerror}.") from None
    failure = ""
    if _missing(raw) and download:
        try:
            import torchvision.datasets

            getattr(torchvision.datasets, dataset)(str(root), train=True, download=True)
        except Exception as err:  # torchvision raises plain RuntimeError/URLError here
            failure = f"download failed ({type(err).__name__}) and "
    if missing := _missing(raw):
        hint = "" if download else "; or set task.download=true on a machine with network"
        raise UserError(
            f"task.data_dir={data_dir!r} is not valid: {failure}{dataset} files missing in "
            f"{raw} (missing: {', '.join(missing)}); task.data_dir must hold {dataset}/raw/ "
            f"with the four uncompressed IDX files {', '.join(FILES)}{hint}."
        )
    cache = raw.parent / "processed" / CACHE_FILE
    fingerprint = stamp(raw)
    if (cached := load_cache(cache, fingerprint)) is not None:
        return cached
    x_train, x_test = (read_idx(raw / name, images=True) for name in IMAGE_FILES)
    y_train, y_test = (read_idx(raw / name, images=False) for name in LABEL_FILES)
    for x, y, name in ((x_train, y_train, FILES[0]), (x_test, y_test, FILES[2])):
        if x.shape[0] != y.shape[0]:
            raise UserError(
                f"{raw / name} holds {x.shape[0]} images but its label file holds {y.shape[0]}."
            )
    tensors = (x_train, y_train.long(), x_test, y_test.long())
    save_cache(cache, fingerprint, tensors)
    return tensors


def task_data(dataset: str, cfg: Any, mean: float, std: float,
              fallback: Fallback = None) -> TaskData:
    """A ten-class image task from an MNIST-format dataset, labels as published."""
    x_train, y_train, x_test, y_test = load(dataset, cfg.data_dir, cfg.download, fallback)
    return TaskData(
        kind="multiclass", n_outputs=10, input_shape=(1, 28, 28),
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        corrupted=y_train.new_zeros(len(y_train), dtype=bool),
        prepare=normaliser(mean, std),
    )


def normaliser(mean: float, std: float):
    """uint8 (B, H, W) → float (B, 1, H, W), scaled per batch on the device."""
    scale, shift = 1.0 / (255.0 * std), -mean / std

    def prepare(x: torch.Tensor) -> torch.Tensor:
        # (x / 255 - mean) / std as one copy and two in-place ops: three fewer temporaries.
        return x.unsqueeze(1).to(torch.float32, copy=True).mul_(scale).add_(shift)

    return prepare
