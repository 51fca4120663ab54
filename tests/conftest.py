"""Shared fixtures: composed configs, tiny IDX datasets in the real format, run dirs."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.config_loader import ConfigLoader
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from lossbench.errors import UserError
from trainer import schemas  # registers every schema and resolver, as train.py does

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
schemas.register()  # as train.py does: the YAML files name their schemas


# The project's Python packages; tests/test_packaging.py imports every module of them.
ROOMS = ("lossbench", "trainer", "tasks", "hydra_plugins", "scripts")


def module_path(module: str) -> Path:
    """The file of a dotted module name under ROOT (a package's is its __init__.py)."""
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _modules() -> list[str]:
    found = []
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


MODULES = _modules()


def compose_cfg(*overrides: str, hydra: bool = False) -> DictConfig:
    """Compose configs/ as train.py does; what Hydra refuses becomes train.py's UserError.
    `hydra`: with the `hydra` node (launcher, sweeper, run and sweep dirs)."""
    with config_loader():
        try:
            return compose("train", overrides=list(overrides), return_hydra_config=hydra)
        except Exception as err:
            if (message := schemas.translate(err)) is None:
                raise
            raise UserError(message) from None


@contextlib.contextmanager
def config_loader() -> Iterator[ConfigLoader]:
    """Hydra's loader for configs/, for tests that expand or compose sweeps as launchers do."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        yield GlobalHydra.instance().config_loader()


def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format MNIST ships in: magic (0, 0, type 0x08 = uint8, ndim), big-endian dims."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def tiny_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28×28 images whose class is drawn as a bright bar in one of ten rows: learnable fast."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, 28, 28))
    for i, label in enumerate(labels):
        images[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
    return images, labels


def write_mnist_like(root: Path, folder: str, n_train: int = 200, n_test: int = 100) -> Path:
    raw = root / folder / "raw"
    for split, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = tiny_images(n, seed)
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return raw


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A torchvision root holding tiny MNIST and Fashion-MNIST in their real layout."""
    root = tmp_path / "data"
    write_mnist_like(root, "MNIST")
    write_mnist_like(root, "FashionMNIST")
    return root


TINY_REGRESSION = ["task.n_train=256", "task.n_test=128"]
# One quick epoch on the CPU, for any task; QUICK_REGRESSION adds the default task's tiny size.
QUICK = ["trainer.max_epochs=1", "trainer.device=cpu", "trainer.progress_bar=false"]
QUICK_REGRESSION = [*QUICK, *TINY_REGRESSION]
BUNDLED = ("digits", "diabetes", "breast_cancer", "wine")  # inside scikit-learn, no files


@pytest.fixture
def make_cfg(data_dir: Path) -> Callable[..., DictConfig]:
    """Compose the real configs as train.py would, pointed at tiny data and quick settings."""

    def make(*overrides: str) -> DictConfig:
        base = ["trainer.max_epochs=2", "trainer.device=cpu", "trainer.progress_bar=false"]
        task = next((o.split("=", 1)[1] for o in overrides if o.startswith("task=")), "regression")
        # scikit-learn's bundled data sets have no files to point at; table and image_folder
        # take theirs in the overrides (task.path, task.root).
        extra = {"regression": TINY_REGRESSION,
                 **{t: [] for t in (*BUNDLED, "table", "image_folder")}}.get(
            task, [f"task.data_dir={data_dir}"])
        return compose_cfg(*base, *extra, *overrides)

    return make


def train_cli(*args: str, cwd: Path | None = None, env: dict | None = None
              ) -> subprocess.CompletedProcess:
    """Run train.py the way a user does, in a fresh interpreter."""
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=env, timeout=600)


def one_line(result: subprocess.CompletedProcess | str, code: int | None = None) -> str:
    """The one line a refused command prints on stderr (`result` or its stderr): no
    traceback, nothing of torch's weights_only warnings; `code`, the exit status it must have."""
    stderr = result if isinstance(result, str) else result.stderr
    said = stderr if isinstance(result, str) else stderr + result.stdout
    if code is not None:
        assert not isinstance(result, str) and result.returncode == code, stderr
    assert "Traceback" not in said and "weights_only" not in said, said
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def assert_one_clear_line(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """A command that failed and said why in one line holding every fragment."""
    assert result.returncode != 0, result.stdout
    line = one_line(result)
    for fragment in fragments:
        assert fragment in line, line


def wait_for_epoch(run_dir: Path, epochs: int, proc: subprocess.Popen) -> None:
    """Until the run's metrics.json records `epochs` finished epochs (fails when the run
    ends first or takes over 300 s)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        # Not there yet, or caught half-written: look again.
        with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
            if json.loads((run_dir / "metrics.json").read_text())["epochs_completed"] >= epochs:
                return
        time.sleep(0.02)
    raise AssertionError(f"never saw epoch {epochs} in {run_dir}")


def train_killed(*args: str, at: str) -> subprocess.CompletedProcess:
    """train.py killed by SIGKILL at step `at` ("<epoch>:<step>") of the first run to get
    there, the epochs before it on disk (trainer/engine/fault.py): a crash at an exact point."""
    done = train_cli(*args, env={**os.environ, "LOSSBENCH_TEST_KILL_AT": at})
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    return done


@pytest.fixture(autouse=True)
def lossbench_logger_enabled():
    """A test that runs train.py in this process lets Hydra's logging config disable
    existing loggers; later tests read the lossbench logger's lines, so turn it back on."""
    logging.getLogger("lossbench").disabled = False

# The fast tier: tests that took SLOW_S seconds or more in the last timed runs
# (tests/durations.json, refreshed by scripts/gen/durations.py) are marked `slow`, so
# `pytest -m "not slow"` runs the rest in a few minutes; CI runs everything. 0.3 s: at
# 1.5 s the tier took 272-277 s against its 180 s target on the shared 2-core CPU, at
# 0.5 s 194 s.
SLOW_S = 0.3
DURATIONS = json.loads((Path(__file__).parent / "durations.json").read_text())


# Kept in the fast tier whatever it took: it is how that tier touches every module.
ALWAYS_FAST = {"tests/test_packaging.py::test_every_module_imports"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slow = {item.nodeid for item in items
            if DURATIONS.get(item.nodeid, 0.0) >= SLOW_S and item.nodeid not in ALWAYS_FAST}
    # A module-scoped fixture is paid for by the first test that uses it: leave that test
    # out and the next one pays. So a slow user makes all its fixture's users slow.
    for users in _module_fixture_users(items).values():
        if any(item.nodeid in slow for item in users):
            slow.update(item.nodeid for item in users)
    for item in items:
        if item.nodeid in slow:
            item.add_marker(pytest.mark.slow)


def _module_fixture_users(items: list[pytest.Item]) -> dict[tuple[str, str], list[pytest.Item]]:
    users: dict[tuple[str, str], list[pytest.Item]] = {}
    for item in items:
        info = getattr(item, "_fixtureinfo", None)  # pytest's own record of the fixtures
        module = getattr(item, "module", None)
        for name, defs in (info.name2fixturedefs.items() if info and module else ()):
            if defs and defs[-1].scope == "module":
                users.setdefault((module.__name__, name), []).append(item)
    return users
