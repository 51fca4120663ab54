"""A kill -9 at an exact point, for the tests of crash and resume.

`LOSSBENCH_TEST_KILL_AT=<epoch>:<step>`: the training process sends itself SIGKILL when it
reaches that step of that epoch, once every earlier epoch's checkpoint and metrics.json are
on disk. A test then gets the state of a run killed mid-epoch on the smallest data, instead
of racing a run made slow enough to be caught. Unset (always, outside those tests): nothing.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

VAR = "LOSSBENCH_TEST_KILL_AT"


def kill_point() -> tuple[int, int] | None:
    """(epoch, step) from the environment, read once per population; None when unset."""
    text = os.environ.get(VAR, "").strip()
    if not text:
        return None
    epoch, _, step = text.partition(":")
    try:
        return int(epoch), int(step or 1)
    except ValueError:
        raise ValueError(f"{VAR}={text!r}: expected <epoch>:<step>, e.g. 2:1") from None


def kill_if(point: tuple[int, int] | None, epoch: int, step: int,
            flush: Callable[[], None]) -> None:
    """SIGKILL this process at `point`, after `flush` (the epochs being written, written)."""
    if point is not None and point == (epoch, step):
        flush()
        os.kill(os.getpid(), signal.SIGKILL)
