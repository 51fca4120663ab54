"""Deciding what `trainer.resume=true` does with a run dir: nothing, continue, or refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lossbench.errors import UserError
from lossbench.status import FINISHED
from trainer import results

# Keys a resumed run may change: where it runs and how long, not what it computes.
MAY_CHANGE = ("trainer.resume", "trainer.device", "trainer.progress_bar", "trainer.max_epochs",
              "logger.")


def finished(run_dir: Path) -> dict[str, Any] | None:
    """The record of a run that ended for good, or None when there is work left."""
    try:
        record = results.read(run_dir)
    except (FileNotFoundError, ValueError):  # never started, or a torn file from a crash
        return None
    return record if record.get("status") in FINISHED else None


def check_same_run(saved: dict[str, Any], now: dict[str, Any], run_dir: Path) -> None:
    """Continuing another config's checkpoint would mix two runs into one curve."""
    for key in sorted(set(saved) | set(now)):
        if key.startswith(MAY_CHANGE):
            continue
        if saved.get(key) != now.get(key):
            raise UserError(
                f"trainer.resume=true but {run_dir} holds a run with {key}={saved.get(key)!r}, "
                f"not {now.get(key)!r}; resume with the same config or use another run dir."
            )
