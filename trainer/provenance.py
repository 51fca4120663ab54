"""Where a run came from: versions, commit, hardware and command line (metrics.json's `env`).

Two results can only be compared when one knows what produced them. Everything here
is cheap: package versions from their metadata, the commit from one `git status`
(only when lossbench runs from a git checkout), hardware from /proc and torch.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

CHECKOUT = Path(__file__).resolve().parents[1]  # the repository root when run from a clone
PACKAGES = ("torchvision", "hydra-core", "lossbench")


def collect(device: str | torch.device = "cpu") -> dict[str, Any]:
    """The run's environment; `device` is the trainer's (`auto` resolves as the trainer does)."""
    return {
        "versions": versions(),
        "git": git_state(CHECKOUT),
        "cpu": cpu(),
        "gpu": gpu(device),
        "command": shlex.join(getattr(sys, "orig_argv", sys.argv)),
        "cwd": os.getcwd(),
    }


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version(),
                                    "torch": str(torch.__version__)}  # not TorchVersion:
    # checkpoints hold the record and load with weights_only=True, which refuses that class
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # e.g. lossbench run from a clone, not installed
            found[name] = None
    return found


def git_state(root: Path) -> dict[str, Any] | None:
    """{commit, dirty} of the checkout lossbench runs from; None when it is not one.

    `dirty` means tracked files differ from the commit (untracked files are not looked
    at: they would cost a walk of logs/ and data/). One git call gives both.
    """
    if not (root / ".git").exists():  # installed from a wheel, or a copy without .git
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain=v2", "--branch",
             "--untracked-files=no"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):  # no git, not a repo, unsafe owner, …
        return None
    lines = done.stdout.splitlines()
    commit = next((line.split()[2] for line in lines if line.startswith("# branch.oid ")), None)
    if commit is None or commit == "(initial)":
        return None
    return {"commit": commit, "dirty": any(not line.startswith("#") for line in lines)}


def cpu() -> dict[str, Any]:
    return {"model": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu(device: str | torch.device) -> dict[str, Any] | None:
    """Name, CUDA, cuDNN and driver versions of the run's CUDA device; None off CUDA."""
    name = str(device)
    if not (name == "auto" or name.startswith("cuda")) or not torch.cuda.is_available():
        return None
    try:
        index = torch.device("cuda" if name == "auto" else name).index
        index = torch.cuda.current_device() if index is None else index
        return {"name": torch.cuda.get_device_name(index), "count": torch.cuda.device_count(),
                "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
                "driver": nvidia_driver()}
    except (RuntimeError, AssertionError):  # an index that does not exist: the trainer says so
        return None


def nvidia_driver() -> str | None:
    """The kernel driver's version, as the NVIDIA module reports it (Linux)."""
    try:
        text = Path("/proc/driver/nvidia/version").read_text()
    except OSError:
        return None
    # "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 …"
    words = text.split("Kernel Module", 1)[-1].split()
    return words[0] if words else None


def label(env: dict[str, Any] | None) -> str | None:
    """What the run ran on, in a few words: the GPU's name, else the CPU's."""
    if not env:
        return None
    if env.get("gpu"):
        return env["gpu"]["name"]
    return env.get("cpu", {}).get("model")


def commit_label(env: dict[str, Any] | None) -> str | None:
    """The commit, 12 hex digits, `+dirty` when the tree had uncommitted changes."""
    git = (env or {}).get("git")
    if not git:
        return None
    return git["commit"][:12] + ("+dirty" if git.get("dirty") else "")


def markdown(env: dict[str, Any]) -> str:
    """The block for TensorBoard's Text tab: a two-column table, then the command line."""
    flat = flatten({k: v for k, v in env.items() if k not in ("command", "cwd")})
    rows = ["| key | value |", "|---|---|"]
    rows += [f"| {key} | {str(value).replace('|', '/')} |" for key, value in flat.items()]
    return "\n".join([*rows, "", f"in `{env.get('cwd')}`:", "", "```",
                      str(env.get("command")), "```"])


def flatten(env: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in env.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
