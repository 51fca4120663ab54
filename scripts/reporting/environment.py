"""What each run ran on (metrics.json's `env`), as table columns, and a warning when the
runs of one report do not share it: results from other code or hardware compare badly."""

from __future__ import annotations

from typing import Any

import pandas as pd

from trainer.provenance import commit_label, label

VERSIONS = ("python", "torch", "torchvision", "hydra-core", "lossbench")
# The columns results.csv gets; `env/<package>` holds that package's version.
COLUMNS = ["commit", "device", *(f"env/{name}" for name in VERSIONS)]


def columns(record: dict[str, Any]) -> dict[str, Any]:
    """A run's environment columns; empty cells for a run written before lossbench kept it."""
    env = record.get("env") or {}
    versions = env.get("versions") or {}
    return {"commit": commit_label(env), "device": label(env),
            **{f"env/{name}": versions.get(name) for name in VERSIONS}}


def mixed(table: pd.DataFrame) -> list[str]:
    """One line per environment column whose value differs between runs, with counts."""
    lines = []
    for column in COLUMNS:
        if column not in table:
            continue
        counts = table[column].dropna().astype(str).value_counts()
        if len(counts) > 1:
            shown = ", ".join(f"{value} ({n} run{'s' * (n > 1)})" for value, n in counts.items())
            lines.append(f"- {column.removeprefix('env/')}: {shown}")
    no_env = int(table["device"].isna().sum()) if "device" in table else 0
    if lines and no_env:
        lines.append(f"- {no_env} run(s) record no environment (written by an older lossbench)")
    return lines


def warning(table: pd.DataFrame) -> list[str]:
    """The summary's warning section, or nothing when every run shares one environment."""
    if not (lines := mixed(table)):
        return []
    return ["", "## Warning: these runs do not share one environment", "",
            "Differences below may come from the code, the versions or the hardware, not "
            "from the losses alone:", "", *lines]
