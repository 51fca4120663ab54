"""Timing helpers the benchmark scripts share: machine facts, a clock that also measures
how much CPU other processes took meanwhile, and a gate that waits for a quiet machine.
The machines these figures come from are shared, so every figure carries its load.
"""

from __future__ import annotations

import math
import os
import platform
import time
from pathlib import Path

import torch

from trainer.provenance import cpu_model


def machine(device: torch.device) -> dict:
    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "device": str(device),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def busy_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (Linux /proc/stat)."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return math.nan
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def own_seconds() -> float:
    """CPU seconds of this process, all its threads, and the children it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Clock:
    """Wall and CPU seconds of the timed block only (set-up before it is not counted), and
    how many cores other processes kept busy meanwhile: these machines are shared."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.wall = self.cpu = self.others = 0.0

    def __enter__(self) -> Clock:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self._start = (time.perf_counter(), time.process_time(), busy_seconds(), own_seconds())
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        wall, cpu, busy, own = self._start
        self.wall, self.cpu = time.perf_counter() - wall, time.process_time() - cpu
        self.others = max((busy_seconds() - busy) - (own_seconds() - own), 0.0) / self.wall


def wait_quiet(max_cores: float | None, patience: float = 600.0) -> None:
    """Sleep while other processes keep more than `max_cores` cores busy (at most `patience`)."""
    deadline = time.monotonic() + patience
    while max_cores is not None and time.monotonic() < deadline:
        with Clock(torch.device("cpu")) as idle:
            time.sleep(1.0)
        if idle.others <= max_cores:
            return


def timed(job, device: torch.device, max_others: float | None, retries: int = 3):
    """Run job(clock) once; with max_others set, in a quiet moment, redone if others woke up."""
    for _ in range(retries + 1):
        wait_quiet(max_others)
        clock = Clock(device)
        result = job(clock)
        if max_others is None or clock.others <= max_others:
            break
    return clock, result
