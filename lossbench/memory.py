"""How much memory a size may take: refuse what cannot fit before anything is allocated.

The limit is the device's whole memory (physical RAM on the CPU, the card's
memory on CUDA), not what is free now: it refuses only sizes that could never
fit, such as a hidden layer of 10^11 units, and leaves tight fits to the user.
"""

from __future__ import annotations

import os

import torch

from lossbench.errors import UserError


def total_bytes(device: torch.device | None = None) -> int:
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"


def require_fits(needed: float, key: str, value: object, what: str,
                 device: torch.device | None = None) -> None:
    """One line naming `key` when `needed` bytes exceed the device's memory."""
    have = total_bytes(device)
    if needed > have:
        where = "this machine" if device is None or device.type == "cpu" else str(device)
        raise UserError(f"{key}={value!r} is not valid: {what} would need about {human(needed)}, "
                        f"more than the {human(have)} of memory on {where}.")
