"""task=image_folder: one folder per class, images resized and kept as uint8 as the MNIST tasks
keep theirs; a root that cannot be used is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import train_cli
from PIL import Image

import tasks

QUICK = ["trainer.max_epochs=1", "trainer.device=cpu", "logger=[]", "task.image_size=8",
         "task.val_fraction=0.2"]


def folder(root: Path, classes: dict[str, int], mode: str = "RGB", n: int = 8) -> Path:
    """n tiny images per class, each class its own brightness."""
    rng = np.random.default_rng(0)
    for name, level in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            shape = (12, 10, 3) if mode == "RGB" else (12, 10)
            pixels = np.clip(rng.normal(level, 20, size=shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, mode).save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize(("mode", "shape"), [("RGB", (3, 8, 8)), ("L", (1, 8, 8))])
def test_images_are_resized_uint8_with_the_folders_classes(make_cfg, tmp_path, mode, shape):
    root = folder(tmp_path / "imgs", {"dark": 40, "light": 200, "mid": 120}, mode)
    cfg = make_cfg("task=image_folder", f"task.root={root}", *QUICK[3:])
    task = tasks.get("image_folder", cfg.task)
    assert (task.KIND, task.N_OUTPUTS) == ("multiclass", 3)
    data = task.build(cfg.task)
    assert data.input_shape == shape and data.x_train.dtype.is_floating_point is False
    assert sorted(data.y_test.tolist()) in ([0, 0, 1, 1, 2], [0, 1, 1, 2, 2], [0, 0, 1, 2, 2])
    assert data.prepare(data.x_train[:2]).shape == (2, *shape)


def test_train_py_trains_on_a_folder(tmp_path):
    root = folder(tmp_path / "imgs", {"a": 40, "b": 200})
    result = train_cli("task=image_folder", f"task.root={root}", *QUICK,
                       f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "ok" and "test/accuracy" in record["final"]


def test_each_unusable_root_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "x.txt").write_text("no images")
    one = folder(tmp_path / "one", {"only": 100})
    cases = [
        (tmp_path / "missing", "an existing folder (not found)."),
        (tmp_path / "flat", "a folder with one sub-folder of images"),
        (one, "a folder with at least 2 class folders; it has one only (only)."),
    ]
    for i, (root, expected) in enumerate(cases):
        result = train_cli("task=image_folder", f"task.root={root}", *QUICK,
                           f"hydra.run.dir={tmp_path}/run{i}")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert len(lines) == 1 and lines[0].startswith(
            f"error: task.root='{root}' is not valid: {expected}"), lines
        # refused before the run dir is claimed: Hydra made it, nothing is in it
        assert not any((tmp_path / f"run{i}").rglob("*"))
