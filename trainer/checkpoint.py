"""checkpoints/last.pt: everything needed to continue a run as if it never stopped.

Written atomically after every epoch and read back with `weights_only=True`, so
a checkpoint can hold tensors and plain Python values but never run code.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lossbench import files

CHECKPOINT = Path("checkpoints") / "last.pt"


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
         order: torch.Generator, scaler: torch.amp.GradScaler, record: dict[str, Any]) -> None:
    path = run_dir / CHECKPOINT
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "epoch": record["epochs_completed"],
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),  # empty unless fp16 autocast is on
        "rng": rng_states(order),
        "record": record,
    }
    with files.atomic_write(path) as f:
        torch.save(state, f)


def load(run_dir: Path, device: torch.device) -> dict[str, Any] | None:
    path = run_dir / CHECKPOINT
    if not path.is_file():
        return None
    return torch.load(path, map_location=device, weights_only=True)


def restore(state: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer,
            order: torch.Generator, scaler: torch.amp.GradScaler) -> None:
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if state["scaler"]:
        scaler.load_state_dict(state["scaler"])
    # map_location moved every tensor to the device; RNG states must live on the CPU.
    rng = state["rng"]
    rng["torch"], rng["order"] = rng["torch"].cpu(), rng["order"].cpu()
    rng["cuda"] = [s.cpu() for s in rng["cuda"]]
    restore_rng(rng, order)
