"""What `trainer.resume=true` may change, and how a resumed record starts (trainer/rundir/claim.py
decides whether a run dir is continued, left alone or refused)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainer.rundir.lock import Refused

# Keys a resumed run may change: where it runs and how long, not what it computes.
MAY_CHANGE = ("trainer.resume", "trainer.device", "trainer.progress_bar", "trainer.max_epochs",
              "logger.")
# Keys added since a run may have been recorded, and the value its run had without them.
ADDED = {"optim.amsgrad": False}


def carry_over(record: dict[str, Any], state: dict[str, Any]) -> None:
    """A resumed run's record starts where its checkpoint's record ended."""
    record.update({k: state["record"].get(k) for k in ("history", "final", "best", "selected",
                                                       "wall_s")},
                  epochs_completed=state["epoch"])
    if state["record"].get("hparams_written"):  # a finished run extended (trainer/logger.py)
        record["hparams_written"] = True


def check_same_run(saved: dict[str, Any], now: dict[str, Any], run_dir: Path) -> None:
    """Continuing another config's checkpoint would mix two runs into one curve."""
    for key in sorted(set(saved) | set(now)):
        if key.startswith(MAY_CHANGE):
            continue
        if key not in saved and key in ADDED and now.get(key) == ADDED[key]:
            continue
        if saved.get(key) != now.get(key):
            raise Refused(
                f"trainer.resume=true but {run_dir} holds a run with {key}={saved.get(key)!r}, "
                f"not {now.get(key)!r}; resume with the same config or use another run dir."
            )
