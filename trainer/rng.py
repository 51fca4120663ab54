"""Every random stream a run draws from, captured and restored in one place.

A checkpoint saves them (numpy's state as a tensor, so it loads with `weights_only=True`),
a population member keeps the streams its setup left (nothing in a stacked step draws from
them), and assemble checks that building data left the seeded streams where they were.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture(order: torch.Generator | None = None) -> dict[str, Any]:
    """The global streams now, and `order` (the run's batch-order generator) if given."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached), "kind": kind},
        "python": random.getstate(),
    }
    if order is not None:
        states["order"] = order.get_state()
    return states


def restore(states: dict[str, Any], order: torch.Generator | None = None) -> None:
    """Set every stream `capture` read; tensors may come back on any device (map_location)."""
    torch.set_rng_state(states["torch"].cpu())
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states["cuda"]])
    n = states["numpy"]
    np.random.set_state((n["kind"], n["keys"].cpu().numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    random.setstate(states["python"])
    if order is not None:
        order.set_state(states["order"].cpu())


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two captures hold the same streams."""
    return (torch.equal(a["torch"], b["torch"]) and a["python"] == b["python"]
            and torch.equal(a["numpy"]["keys"], b["numpy"]["keys"])
            and {k: v for k, v in a["numpy"].items() if k != "keys"}
            == {k: v for k, v in b["numpy"].items() if k != "keys"}
            and len(a["cuda"]) == len(b["cuda"])
            and all(torch.equal(x, y) for x, y in zip(a["cuda"], b["cuda"], strict=True)))
