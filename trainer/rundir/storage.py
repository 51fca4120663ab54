"""Disk trouble (full, read-only, not ours, not a folder) as one line that names the path and
the setting that chose it, not a traceback."""

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

# What the user can do about each errno; `{where}` is the setting that chose the path
# (hydra.run.dir, LOSSBENCH_LOGS, ...), or "the run dir" when none is known.
HINTS = {
    errno.ENOSPC: "free some space or choose a run dir on another disk",
    errno.EDQUOT: "free some of your quota or choose a run dir on another disk",
    errno.EROFS: "choose a run dir on a writable disk",
    errno.EACCES: "choose a run dir you may write to",
    errno.EPERM: "choose a run dir you may write to",
    errno.EEXIST: "a file of that name is in the way; set {where} to a folder, or move the file",
    errno.ENOTDIR: "a part of the path is a file, not a folder; set {where} to a folder path",
    errno.ENOENT: "its parent cannot hold new folders; set {where} to a place you can create",
    errno.ENAMETOOLONG: "a name in it is longer than the file system allows; shorten {where}",
    errno.ELOOP: "the path goes round a loop of symbolic links; set {where} to another path",
}
# Any other OSError while writing a place lossbench must write to: the same one line.
OTHER = "set {where} to another place"


class StorageError(UserError):
    """A place lossbench must write to cannot take it: one line, exit 2, `failed` if recordable."""


def os_error(err: BaseException) -> OSError | None:
    """The OSError behind `err`: torch.save reports a full disk as a RuntimeError whose
    context is the OSError that the file object raised."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError) and err.errno is not None:
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def explain(err: BaseException, path: Path, where: str = "the run dir") -> StorageError | None:
    """A StorageError naming `path` (and `where`, the setting that chose it) when `err`
    is an OSError from writing there, else None."""
    cause = os_error(err)
    if cause is None:
        return None
    hint = HINTS.get(cause.errno, OTHER).format(where=where)
    why = cause.strerror or os.strerror(cause.errno)
    return StorageError(f"cannot write {path}: {why}; {hint}.")


@contextmanager
def writing(path: Path, where: str = "the run dir") -> Iterator[None]:
    """Turn an OSError while writing `path` into a StorageError; anything else passes."""
    try:
        yield
    except StorageError:
        raise
    except Exception as err:
        if (problem := explain(err, path, where)) is not None:
            raise problem from err
        raise


def setting(config: DictConfig, key: str) -> str:
    """Which setting chose the path under `key`: the key when the command line set it,
    LOSSBENCH_LOGS when that variable is set and the key was left at its default."""
    typed = any(str(o).lstrip("+").startswith(f"{key}=")
                for o in config.hydra.overrides.hydra)
    if not typed and os.environ.get("LOSSBENCH_LOGS"):
        return f"LOSSBENCH_LOGS (which {key} is under)"
    return key


class WritableOutput(Callback):
    """Hydra creates the run or sweep dir and writes there before any task code runs; a
    read-only or forbidden place would end in Hydra's traceback. Checked first instead."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(Path(config.hydra.run.dir), setting(config, "hydra.run.dir"))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(Path(config.hydra.sweep.dir), setting(config, "hydra.sweep.dir"))

    @staticmethod
    def _check(folder: Path, where: str) -> None:
        try:
            with writing(folder, where):
                folder.mkdir(parents=True, exist_ok=True)  # the same name Hydra resolves
                with tempfile.TemporaryFile(dir=folder):  # the real errno, and no name left
                    pass
        except StorageError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
