"""Disk trouble (full, read-only, not ours) as one line that names the path, not a traceback."""

from __future__ import annotations

import errno
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lossbench.errors import UserError

# What the user can do about each errno; any other OSError is a bug or a fault, not a place.
HINTS = {
    errno.ENOSPC: "free some space or choose a run dir on another disk",
    errno.EDQUOT: "free some of your quota or choose a run dir on another disk",
    errno.EROFS: "choose a run dir on a writable disk",
    errno.EACCES: "choose a run dir you may write to",
    errno.EPERM: "choose a run dir you may write to",
}


class StorageError(UserError):
    """A place lossbench must write to cannot take it: one line, exit 2, `failed` if recordable."""


def os_error(err: BaseException) -> OSError | None:
    """The OSError behind `err`: torch.save reports a full disk as a RuntimeError whose
    context is the OSError that the file object raised."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError) and err.errno in HINTS:
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def explain(err: BaseException, path: Path) -> StorageError | None:
    """A StorageError naming `path` when `err` is disk trouble, else None."""
    cause = os_error(err)
    if cause is None:
        return None
    return StorageError(f"cannot write {path}: {cause.strerror}; {HINTS[cause.errno]}.")


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn disk trouble while writing `path` into a StorageError; anything else passes."""
    try:
        yield
    except StorageError:
        raise
    except Exception as err:
        if (problem := explain(err, path)) is not None:
            raise problem from err
        raise


class WritableOutput(Callback):
    """Hydra creates the run or sweep dir and writes there before any task code runs; a
    read-only or forbidden place would end in Hydra's traceback. Checked first instead."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(Path(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(Path(config.hydra.sweep.dir))

    @staticmethod
    def _check(folder: Path) -> None:
        try:
            with writing(folder):
                folder.mkdir(parents=True, exist_ok=True)  # the same name Hydra resolves
                with tempfile.TemporaryFile(dir=folder):  # the real errno, and no name left
                    pass
        except StorageError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
