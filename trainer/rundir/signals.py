"""Critical sections that Ctrl-C and SIGTERM wait for, so they never cut a commit in half.

A checkpoint and the record that points at it are written one after the other;
an interrupt between the two would leave metrics.json claiming an epoch whose
checkpoint is not on disk. Blocking the signals with pthread_sigmask is not
enough: Python runs handlers in the main thread whichever thread the kernel
delivers to, and TensorBoard's writer thread does not block them. So for the
length of the section the handlers only note the signal; it is delivered to
the previous handler once the section is done.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# SIGUSR2: Slurm's warning before a job's time limit (trainer/slurm/array.py).
DEFERRED = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)
_received: set[int] = set()


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGUSR2 until the block has finished; a no-op off the main thread
    (only the main thread can set handlers, and only it receives them in Python)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum: int, frame: Any) -> None:
        caught.append(signum)

    previous = {signum: signal.signal(signum, note) for signum in DEFERRED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    # Reached only when the block finished: an error inside it outranks the signal.
    if caught:
        deliver(caught[0], previous[caught[0]])


def deliver(signum: int, handler: Any) -> None:
    if callable(handler):
        handler(signum, None)  # e.g. KeyboardInterrupt from Python's SIGINT handler
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signum)  # the default action (terminate), now that it is safe
    # SIG_IGN: the signal was to be ignored anyway.


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM ended the run; `recorded` when metrics.json says so."""

    def __init__(self, reason: str, recorded: bool) -> None:
        super().__init__(reason)
        self.recorded = recorded


def interrupt_on(signum: int, reason: str) -> None:
    """The signal stops a run as Ctrl-C does: recorded with `reason`, resumable."""
    def handler(signum: int, frame: Any) -> None:
        _received.add(signum)
        raise KeyboardInterrupt(reason)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signum, handler)


def received(signum: int) -> bool:
    """Whether `interrupt_on`'s handler for this signal has fired in this process."""
    return signum in _received


def interrupt_on_sigterm() -> None:
    """SIGTERM (scancel, `kill`) stops a run as Ctrl-C does: recorded, resumable."""
    interrupt_on(signal.SIGTERM, "SIGTERM")
