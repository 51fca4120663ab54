"""The run's record: what metrics.json holds, built up as the run goes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench import files
from lossbench.status import RunStatus

METRICS_FILE = "metrics.json"


def flat_hparams(cfg: DictConfig) -> dict[str, Any]:
    """The config's scalar values as dotted keys: what TensorBoard's HParams tab can hold."""
    groups = {k: OmegaConf.to_container(cfg[k], resolve=True)
              for k in ("task", "loss", "model", "optim", "trainer") if k in cfg}
    flat: dict[str, Any] = {"seed": cfg.seed}
    for group, values in groups.items():
        for key, value in values.items():
            flat[f"{group}.{key}"] = str(value) if isinstance(value, (list, dict)) else value
    return flat


def new_record(cfg: DictConfig) -> dict[str, Any]:
    return {
        "task": cfg.task.name,
        "loss": cfg.loss.name,
        "model": cfg.model.name,
        "optim": cfg.optim.name,
        "lr": cfg.optim.lr,
        "seed": cfg.seed,
        "status": str(RunStatus.RUNNING),
        "reason": None,
        "epochs_completed": 0,
        "final": {},
        "best": {},
        "history": [],
        "wall_s": 0.0,
        "hparams": flat_hparams(cfg),
    }


def _json_safe(value: Any) -> Any:
    # NaN and Inf are not JSON: a diverged metric is written as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write(run_dir: Path, record: dict[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_json_safe(record), indent=2, allow_nan=False)
    files.write_text(run_dir / METRICS_FILE, text + "\n")


def read(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / METRICS_FILE).read_text())
