"""The run's record: what metrics.json holds, built up as the run goes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench import files
from lossbench.errors import is_number
from lossbench.status import RunStatus
from trainer import provenance
from trainer.rundir import storage
from trainer.rundir.lock import Refused

METRICS_FILE = "metrics.json"
STATUSES = tuple(str(s) for s in RunStatus)
# The fields lossbench reads back (resume, sweep summary), with the types it needs.
FIELDS: dict[str, type | tuple[type, ...]] = {
    "task": str, "loss": str, "status": str, "epochs_completed": int, "history": list,
    "final": dict, "best": dict, "wall_s": (int, float), "hparams": dict,
}


class CorruptRecord(Refused):
    """metrics.json is there but is not a record lossbench wrote."""


def flat_hparams(cfg: DictConfig) -> dict[str, Any]:
    """The config's scalar values as dotted keys: what TensorBoard's HParams tab can hold."""
    groups = {k: OmegaConf.to_container(cfg[k], resolve=True)
              for k in ("task", "loss", "model", "optim", "scheduler", "trainer") if k in cfg}
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
        "selected": None,  # {"epoch": e, test metrics at e}, e chosen on the validation split
        "history": [],
        "wall_s": 0.0,
        "hparams": flat_hparams(cfg),
        "env": provenance.collect(OmegaConf.select(cfg, "trainer.device", default="cpu")),
    }


def fallback_record(cfg: DictConfig) -> dict[str, Any]:
    """A record for a run whose config cannot even be read into one (an unresolvable value):
    what can be read, and null for the rest."""
    def pick(key: str) -> Any:
        value = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
        return value if isinstance(value, (str, int, float, bool)) or value is None else None

    return {"task": pick("task.name"), "loss": pick("loss.name"), "model": pick("model.name"),
            "optim": pick("optim.name"), "lr": pick("optim.lr"), "seed": pick("seed"),
            "status": "running", "reason": None, "epochs_completed": 0, "final": {}, "best": {},
            "history": [], "wall_s": 0.0, "hparams": {}}


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
    text = json.dumps(_json_safe(record), indent=2, allow_nan=False)
    with storage.writing(run_dir / METRICS_FILE):
        run_dir.mkdir(parents=True, exist_ok=True)
        files.write_text(run_dir / METRICS_FILE, text + "\n")


def read(run_dir: Path) -> dict[str, Any]:
    """The run's record. FileNotFoundError when there is none; CorruptRecord when the
    file is not a record lossbench wrote (a folder, not JSON, wrong fields)."""
    path = run_dir / METRICS_FILE

    def refuse(why: str) -> CorruptRecord:
        return CorruptRecord(f"{path} {why}; delete it (the run then starts over), or choose "
                             "another run dir.")

    if path.is_dir():
        raise refuse("is a folder, not a lossbench record")
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except OSError as err:
        raise refuse(f"cannot be read ({err.strerror})") from None
    except ValueError:
        raise refuse("is not valid JSON (torn or edited)") from None
    wrong = problems(record)
    if wrong:
        raise refuse(f"is not a lossbench record ({wrong})")
    return record


def problems(record: object) -> str | None:
    """What is wrong with a parsed metrics.json, or None when lossbench can use it."""
    if not isinstance(record, dict):
        return f"holds a {type(record).__name__}, not an object"
    wrong = [key for key, kind in FIELDS.items()
             if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool)]
    if wrong:
        return "missing or mistyped: " + ", ".join(wrong)
    if record["status"] not in STATUSES:
        return f"status {record['status']!r} is not one of {', '.join(STATUSES)}"
    for kind in ("final", "best"):
        if not all(v is None or is_number(v) for v in record[kind].values()):
            return f"{kind} holds a value that is not a number"
    return None
