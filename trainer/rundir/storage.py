"""Disk trouble (full, read-only, not ours) as one line that names the path, not a traceback."""

from __future__ import annotations

import errno
import os
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
    errno.ENOTDIR: "part of the path is a file, not a folder; choose another run dir",
    errno.EEXIST: "a file of that name is in the way; choose another run dir",
    errno.ENOENT: "a folder on the path cannot be made there; choose another run dir",
    errno.ENAMETOOLONG: "a name on the path is longer than the filesystem allows; choose a "
                        "shorter run dir",
    errno.ELOOP: "the path loops through symbolic links; choose another run dir",
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
        _refuse_chdir(config)
        self._check(Path(config.hydra.run.dir), "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _refuse_chdir(config)
        self._check(Path(config.hydra.sweep.dir), "hydra.sweep.dir")

    @staticmethod
    def _check(folder: Path, key: str) -> None:
        where = key + (" (under $LOSSBENCH_LOGS)" if os.environ.get("LOSSBENCH_LOGS") else "")
        try:
            with writing(folder):
                folder.mkdir(parents=True, exist_ok=True)  # the same name Hydra resolves
                with tempfile.TemporaryFile(dir=folder):  # the real errno, and no name left
                    pass
        except StorageError as err:
            print(f"error: {where}: {err}", file=sys.stderr)
            sys.exit(2)
        except OSError as err:  # no hint for this one, but still the user's path, in one line
            print(f"error: {where}: cannot write {folder}: {err.strerror or err}.",
                  file=sys.stderr)
            sys.exit(2)


def _refuse_chdir(config: DictConfig) -> None:
    """hydra.job.chdir=true moves each job into its run dir, where a sweep's relative paths
    (its records, task.data_dir, logs/) would then be resolved: a sweep lost track of its
    runs that way. Each run writes only to its own run dir anyway, so there is no need."""
    if config.hydra.job.get("chdir"):
        print("error: hydra.job.chdir=true is not supported: lossbench resolves the sweep's "
              "records and task.data_dir against the folder you launch from, and every run "
              "writes only to its run dir; drop hydra.job.chdir.", file=sys.stderr)
        sys.exit(2)
