"""checkpoints/last.pt: everything needed to continue a run as if it never stopped.

Written atomically after every epoch and read back with `weights_only=True`, so
a checkpoint can hold tensors and plain Python values but never run code. A file
that is not a checkpoint lossbench wrote (truncated, empty, something else, a
folder) is one line naming it and what to do, never torch's own advice.
"""

from __future__ import annotations

import os
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lossbench import files
from trainer import rng
from trainer.rundir import storage
from trainer.rundir.lock import Refused
from trainer.schedulers import Schedule

CHECKPOINT = Path("checkpoints") / "last.pt"
# A population's newest epoch: every member's checkpoint in one file, written once and
# hard-linked into each member's run dir; a member's own last.pt is written when it leaves.
POPULATION = Path("checkpoints") / "population.pt"
# What a checkpoint must hold, and of which type, for `restore` to use it.
FIELDS = {"epoch": int, "model": dict, "optimizer": dict, "rng": dict, "record": dict}


class CorruptCheckpoint(Refused):
    """checkpoints/last.pt is there but cannot be a lossbench checkpoint."""


def state(record: dict[str, Any], model: dict[str, torch.Tensor], optimizer: dict[str, Any],
          schedule: Schedule, scaler: dict[str, Any], streams: dict[str, Any]
          ) -> dict[str, Any]:
    """One run's checkpoint from its model's and optimizer's state_dicts: `streams` as
    rng.capture(order) read them, `scaler` as torch.amp.GradScaler.state_dict() writes it
    (empty unless precision 16)."""
    return {
        "epoch": record["epochs_completed"],
        "model": model,  # batch norm's running statistics included
        "optimizer": optimizer,
        "scheduler": schedule.state_dict(),  # None: constant lr
        "scaler": scaler,
        "rng": streams,
        "record": record,
    }


def save(run_dir: Path, state: dict[str, Any]) -> None:
    """last.pt, atomically; a population.pt the run left behind (its epochs are older) goes."""
    path = run_dir / CHECKPOINT
    # Through a file object, so a full disk surfaces as the OSError behind torch's
    # RuntimeError; lossbench.files syncs it before the rename.
    with storage.writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with files.atomic_write(path) as f:
            torch.save(state, f)
        (run_dir / POPULATION).unlink(missing_ok=True)


def save_population(states: dict[Path, dict[str, Any]]) -> None:
    """Every member's checkpoint (run dir → `state`) in one file, written once in the first
    member's run dir and hard-linked into the others' (copied where links cannot go)."""
    dirs = list(states)
    first = dirs[0] / POPULATION
    with storage.writing(first):
        first.parent.mkdir(parents=True, exist_ok=True)
        with files.atomic_write(first) as f:
            torch.save({"members": {d.name: s for d, s in states.items()}}, f)
    for run_dir in dirs[1:]:
        path = run_dir / POPULATION
        with storage.writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")  # claim.py removes leftovers
            tmp.unlink(missing_ok=True)
            try:
                os.link(first, tmp)
            except OSError:  # another file system
                shutil.copyfile(first, tmp)
            os.replace(tmp, path)


def load(run_dir: Path, device: torch.device) -> dict[str, Any] | None:
    """The newest checkpoint, last.pt's or the member's in population.pt; None when the run
    has none yet; CorruptCheckpoint for a bad one."""
    state = _load(run_dir / CHECKPOINT, device)
    population = _load(run_dir / POPULATION, device, member=run_dir.name)
    if population is not None and (state is None or population["epoch"] > state["epoch"]):
        return population
    return state


def _load(path: Path, device: torch.device, member: str | None = None
          ) -> dict[str, Any] | None:
    """The checkpoint at `path`; for a population's file, the member's (`member`)."""
    if not path.exists() and not path.is_symlink():
        return None

    def refuse(why: str) -> CorruptCheckpoint:
        return CorruptCheckpoint(
            f"{path} {why}, so the run cannot continue from it; delete it to restart the run "
            "from epoch 1 (trainer.resume=true), or start over in another run dir.")

    if path.is_dir():
        raise refuse("is a folder, not a checkpoint file")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except EOFError:
        raise refuse("is empty") from None
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError,
            AttributeError, IndexError, KeyError, TypeError):
        # Only our words: torch's message would suggest weights_only=False, i.e.
        # running whatever code the file holds.
        raise refuse("is truncated or not a lossbench checkpoint") from None
    except OSError as err:
        raise refuse(f"cannot be read ({err.strerror})") from None
    if member is not None:
        if not isinstance(state, dict) or not isinstance(state.get("members"), dict):
            raise refuse("is not a population's checkpoint")
        state = state["members"].get(member)
        if state is None:  # a population this run dir left: its last.pt holds its epoch
            return None
    wrong = [k for k, kind in FIELDS.items() if not isinstance(state, dict)
             or not isinstance(state.get(k), kind) or isinstance(state.get(k), bool)]
    if wrong:
        raise refuse(f"lacks or mistypes {', '.join(wrong)}: not a lossbench checkpoint")
    return state


def restore(state: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer,
            order: torch.Generator, schedule: Schedule) -> None:
    """Model, optimizer, schedule and every random stream as the checkpoint left them
    (its scaler state is the engine's to take)."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])  # the lr the next step uses, too
    schedule.load_state_dict(state.get("scheduler"))  # None from a run without one
    rng.restore(state["rng"], order)
