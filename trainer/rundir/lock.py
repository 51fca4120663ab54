"""One process per run dir: an exclusive lock taken before anything is written there.

The lock is `fcntl.flock` on `<run dir>/.lock`. The kernel drops it when its
holder exits in any way, SIGKILL included, so a lock left by a killed run is
simply taken by the next one: there is no stale state to detect or clean up.
The file holds the holder's pid and host, for the message a second process gets.
flock locks belong to an open file, so two runs in one process exclude each other too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path

from lossbench.errors import UserError
from trainer.rundir import storage

LOCK_FILE = ".lock"


class Refused(UserError):
    """The run dir is not this run's to write: busy, or holding another or an unreadable run.
    Nothing is written there; in a sweep the job is counted as refused."""


class InUse(Refused):
    """Another process holds the run dir; `ours` when it is this process (a sweep whose jobs
    share one run dir, trained together by the population launcher)."""

    def __init__(self, message: str, ours: bool = False) -> None:
        super().__init__(message)
        self.ours = ours


class RunDirLock:
    """Held from `acquire()` until `release()` or the end of the process."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> RunDirLock:
        with storage.writing(self.path):
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise InUse(f"{self.run_dir} is in use by {holder}; wait for it or choose "
                        "another run dir.", ours=holder == f"process {os.getpid()}") from None
        self.fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        with contextlib.suppress(OSError):  # the lock still goes with the close
            os.ftruncate(fd, 0)
        os.close(fd)  # closing drops the flock

    @property
    def held(self) -> bool:
        return self.fd is not None

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(fd: int) -> str:
    """'process 1234' (on another host: 'process 1234 on node7'), as the holder wrote it."""
    try:
        pid, _, host = os.pread(fd, 200, 0).decode().strip().partition(" ")
    except (OSError, UnicodeDecodeError):
        pid, host = "", ""
    if not pid.isdigit():
        return "another process"  # it has the lock but has not written its pid yet
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return f"process {pid}{where}"
