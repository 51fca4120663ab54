"""checkpoints/last.pt: everything needed to continue a run as if it never stopped.

Written atomically after every epoch and read back with `weights_only=True`, so
a checkpoint can hold tensors and plain Python values but never run code. A file
that is not a checkpoint lossbench wrote (truncated, empty, something else, a
folder) is one line naming it and what to do, never torch's own advice.
"""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lossbench import files
from trainer.rundir import storage
from trainer.rundir.lock import Refused
from trainer.schedulers import Schedule

CHECKPOINT = Path("checkpoints") / "last.pt"
# What a checkpoint must hold, and of which type, for `restore` to use it.
FIELDS = {"epoch": int, "model": dict, "optimizer": dict, "rng": dict, "record": dict}


class CorruptCheckpoint(Refused):
    """checkpoints/last.pt is there but cannot be a lossbench checkpoint."""


def rng_states(order: torch.Generator) -> dict[str, Any]:
    """Every random stream a run draws from, numpy's as a tensor so it loads safely."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached), "kind": kind},
        "python": random.getstate(),
        "order": order.get_state(),
    }


def restore_rng(states: dict[str, Any], order: torch.Generator) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    n = states["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    random.setstate(states["python"])
    order.set_state(states["order"])


def save(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
         order: torch.Generator, scaler: torch.amp.GradScaler, record: dict[str, Any],
         schedule: Schedule | None = None, rng: dict[str, Any] | None = None) -> None:
    """`rng`: the random streams as `rng_states(order)` read them, when they were read
    earlier (population training writes a member's checkpoint while others train)."""
    path = run_dir / CHECKPOINT
    state = {
        "epoch": record["epochs_completed"],
        "model": model.state_dict(),  # batch norm's running statistics included
        "optimizer": optimizer.state_dict(),
        "scheduler": None if schedule is None else schedule.state_dict(),  # None: constant lr
        "scaler": scaler.state_dict(),  # empty unless fp16 autocast is on
        "rng": rng_states(order) if rng is None else rng,
        "record": record,
    }
    # Through a file object, so a full disk surfaces as the OSError behind torch's
    # RuntimeError; lossbench.files syncs it before the rename.
    with storage.writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with files.atomic_write(path) as f:
            torch.save(state, f)


def load(run_dir: Path, device: torch.device) -> dict[str, Any] | None:
    """The checkpoint, or None when the run has none yet; CorruptCheckpoint for a bad one."""
    path = run_dir / CHECKPOINT
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
    wrong = [k for k, kind in FIELDS.items() if not isinstance(state, dict)
             or not isinstance(state.get(k), kind) or isinstance(state.get(k), bool)]
    if wrong:
        raise refuse(f"lacks or mistypes {', '.join(wrong)}: not a lossbench checkpoint")
    return state


def restore(state: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer,
            order: torch.Generator, scaler: torch.amp.GradScaler,
            schedule: Schedule | None = None) -> None:
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])  # the lr the next step uses, too
    if schedule is not None:
        schedule.load_state_dict(state.get("scheduler"))  # None from a run without one
    if state["scaler"]:
        scaler.load_state_dict(state["scaler"])
    # map_location moved every tensor to the device; RNG states must live on the CPU.
    rng = state["rng"]
    rng["torch"], rng["order"] = rng["torch"].cpu(), rng["order"].cpu()
    rng["cuda"] = [s.cpu() for s in rng["cuda"]]
    restore_rng(rng, order)
