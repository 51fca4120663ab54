"""How a run ended, as metrics.json's `status` says it (the CONTRACT lists the values)."""

from __future__ import annotations

from enum import Enum


class RunStatus(str, Enum):
    """A str, so a status read back from JSON compares equal: `"ok" == RunStatus.OK`."""

    OK = "ok"
    DIVERGED = "diverged"  # NaN/Inf met: training stopped, `reason` says where
    SKIPPED = "skipped"  # the task and loss do not fit together (multirun only)
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    RUNNING = "running"

    def __str__(self) -> str:
        return self.value

    # Enum hashes by member name; a str's hash lets "ok" find RunStatus.OK in a set or dict.
    __hash__ = str.__hash__


# Ended for good: a resume leaves these alone, and a sweep counts them as done.
FINISHED = (RunStatus.OK, RunStatus.DIVERGED, RunStatus.SKIPPED)
