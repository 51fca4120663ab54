"""The few lines a run ends with on the console: how it ended, the epoch it would be judged
by, where its files are and how to see its curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def closing(record: dict[str, Any], run_dir: Path) -> list[str]:
    """The run's closing block (train.py logs it after a single run)."""
    reason = f": {record['reason']}" if record.get("reason") else ""
    lines = [f"run {record['status']}{reason}"]
    final, history = record.get("final") or {}, record.get("history") or []
    main = next((k.split("/", 1)[1] for k in final if k.startswith("test/") and k != "test/loss"),
                None)
    selected = record.get("selected")
    if main and selected and f"test/{main}" in selected:
        epoch = selected["epoch"]
        val = next((h.get(f"val/{main}") for h in history if h["epoch"] == epoch), None)
        lines.append(f"selected epoch {epoch} (best val/{main}): val/{main} {val:.4g}, "
                     f"test/{main} {selected[f'test/{main}']:.4g}")
    elif main and history:
        lines.append(f"last epoch {history[-1]['epoch']}: test/{main} {final[f'test/{main}']:.4g}")
    data = record.get("data") or {}
    corrupted = {k: v for k, v in data.items() if k.startswith("val_") and v}
    for key, share in corrupted.items():
        lines.append(f"note: the validation split is corrupted on purpose ({key} {share:.3g}, "
                     f"as the training data), so val/{main} scores corrupted targets while "
                     f"test/{main} scores clean ones; task.val_clean=true validates on clean "
                     "targets")
    lines.append(f"run dir: {run_dir}")
    lines.append(f"curves: tensorboard --logdir {run_dir}")
    return lines
