"""Every run under a folder: its metrics.json record, swept values and TensorBoard curves."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from scripts.reporting import environment
from trainer.rundir import results

# Columns every row has, whatever was swept; `final/<tag>`, `selected/<tag>` (and
# `selected/epoch`) and `best/<tag>` follow.
FIXED = ["run", "task", "loss", "seed", "model", "optim", "lr", "status", "reason",
         "epochs_completed", "wall_s", *environment.COLUMNS]
# Keys that name a run's pair and seed, already columns of their own.
IDENTITY = {"task", "loss", "seed"}
# A record's metric groups: last epoch, validation-selected epoch, test-selected (oracle).
KINDS = ("final", "selected", "best")


@dataclass
class Runs:
    table: pd.DataFrame   # one row per run
    curves: pd.DataFrame  # run, tag, epoch, value: the per-epoch TensorBoard scalars
    swept: list[str]      # columns holding a swept value (from the runs' overrides)
    steps: pd.DataFrame   # run, tag, step, value: grad/* and data/* (trainer.diagnostics)


def find(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("metrics.json"))


def overrides(run_dir: Path) -> dict[str, Any] | None:
    """The run's command-line and sweep overrides, typed as Hydra parses them."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return None
    try:
        given = yaml.safe_load(path.read_text()) or []
        parsed = OverridesParser.create().parse_overrides([str(o) for o in given])
    except Exception as err:  # edited by hand, or not Hydra's: the record's hparams will do
        print(f"warning: ignored {path} ({type(err).__name__}): swept values come from "
              "metrics.json", file=sys.stderr)
        return None
    # key_or_group drops a leading +/++ and any @package: `+pair=x` sets `pair`.
    return {o.key_or_group: o.value() for o in parsed if not o.is_delete()}


def read(path: Path) -> dict[str, Any] | None:
    """A run's record, or None (with a warning) for a metrics.json lossbench did not write."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        record, problem = None, type(err).__name__
    else:
        problem = results.problems(record)
    if problem is None:
        return record
    print(f"warning: skipped {path}: not a lossbench metrics.json ({problem})", file=sys.stderr)
    return None


# Keys that do not change what a run computes.
IGNORED = {"trainer.progress_bar", "trainer.resume", "trainer.device",
           "trainer.log_every_n_steps", "trainer.diagnostics"}


def config_key(record: dict[str, Any]) -> str:
    """The run's configuration without its loss: equal for runs that may be paired."""
    hparams = record.get("hparams") or {}
    kept = {k: v for k, v in hparams.items()
            if not k.startswith("loss.") and k != "loss" and k not in IGNORED}
    return json.dumps(kept, sort_keys=True, default=str)


def _cell(value: Any) -> Any:
    return str(value) if isinstance(value, (list, dict, tuple)) else value


def row(root: Path, run_dir: Path, record: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The run's table row, and the columns its overrides set (candidates for swept)."""
    name = run_dir.relative_to(root).as_posix()
    out: dict[str, Any] = {"run": run_dir.name if name == "." else name}
    out.update({k: _cell(record.get(k)) for k in FIXED[1:] if k not in environment.COLUMNS})
    out.update(environment.columns(record))
    given = overrides(run_dir)
    hparams = record.get("hparams", {})
    # Typed values from the run's own config where it has the key; the override otherwise.
    values = hparams if given is None else {k: hparams.get(k, v) for k, v in given.items()}
    columns = set()
    for key, value in values.items():
        column = "lr" if key == "optim.lr" else key
        columns.add(column)
        if column not in FIXED:  # model=cnn, optim=sgd: already columns of the record
            out[column] = _cell(value)
    for kind in KINDS:
        for tag, value in (record.get(kind) or {}).items():
            out[f"{kind}/{tag}"] = math.nan if value is None else value
    out["config"] = config_key(record)  # what --baseline pairs runs by (baseline.py)
    return out, columns - IDENTITY


def scalars(run_dir: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-epoch curves: run, tag, epoch, value; per-step diagnostics: run, tag, step, value).

    Epoch scalars sit at the step that ends their epoch, beside an `epoch` tag that
    maps steps to epochs. Every sink the run wrote is read and merged by step: a resume
    may switch the logger (epoch 1 in event files, epochs 2-6 in `scalars.csv`), and
    either alone would be a truncated curve. tbparse reads each event file on its own,
    so the purge a resumed run's writer asks for is applied here: the newest value of a
    step wins.
    """
    from tbparse import SummaryReader

    empty = (pd.DataFrame(columns=["run", "tag", "epoch", "value"]),
             pd.DataFrame(columns=["run", "tag", "step", "value"]))
    sinks: list[tuple[float, pd.DataFrame]] = []  # (when last written, its scalars)
    if events := list(run_dir.glob("events.out.tfevents.*")):
        found = SummaryReader(str(run_dir), event_types={"scalars"}).scalars
        if not found.empty:
            newest = max(p.stat().st_mtime for p in events)
            sinks.append((newest, found[["step", "tag", "value"]]))
    csv = run_dir / "scalars.csv"
    if csv.is_file():  # logger=csv, alone or beside tensorboard
        sinks.append((csv.stat().st_mtime, pd.read_csv(csv, usecols=["step", "tag", "value"])))
    sinks = sorted((s for s in sinks if not s[1].empty), key=lambda s: s[0])
    if not sinks:  # no sink, or diverged before its first logged step
        return empty
    # The sink written last goes last, so its value of a step both hold wins.
    found = pd.concat([frame for _, frame in sinks], ignore_index=True)
    found = found.drop_duplicates(["tag", "step"], keep="last").assign(run=name)
    epoch_of = found[found.tag == "epoch"].set_index("step").value
    per_epoch = found[found.tag.str.startswith(("test/", "val/"))
                      | (found.tag == "train/loss_epoch")]
    per_epoch = per_epoch.assign(epoch=per_epoch.step.map(epoch_of)).dropna(subset=["epoch"])
    per_step = found[found.tag.str.startswith(("grad/", "data/"))]
    return (per_epoch.astype({"epoch": int})[["run", "tag", "epoch", "value"]],
            per_step[["run", "tag", "step", "value"]])


def _swept(table: pd.DataFrame, candidates: set[str]) -> list[str]:
    """Candidates whose value differs between runs and is not the seed under another name
    (task.data_seed: ${seed}); `lr` too when it differs."""
    def varies(column: str) -> bool:
        return table[column].astype(str).nunique() > 1

    def is_seed(column: str) -> bool:
        return bool((table[column].astype(str) == table.seed.astype(str)).all())

    swept = [c for c in sorted(candidates) if c != "lr" and varies(c) and not is_seed(c)]
    return [*swept, "lr"] if varies("lr") else swept


def load(root: Path) -> Runs:
    rows, parts, step_parts, candidates = [], [], [], set()
    for run_dir in find(root):
        record = read(run_dir / "metrics.json")
        if record is None:
            continue
        out, columns = row(root, run_dir, record)
        rows.append(out)
        candidates |= columns
        per_epoch, per_step = scalars(run_dir, out["run"])
        parts.append(per_epoch)
        step_parts.append(per_step)
    empty = pd.DataFrame(columns=["run", "tag", "epoch", "value"])
    no_steps = pd.DataFrame(columns=["run", "tag", "step", "value"])
    steps = pd.concat([p for p in step_parts if not p.empty] or [no_steps], ignore_index=True)
    table = pd.DataFrame(rows)
    if table.empty:
        return Runs(table, empty, [], no_steps)
    swept = _swept(table, candidates)
    metrics = [c for kind in KINDS for c in sorted(table.columns) if c.startswith(f"{kind}/")]
    columns = [*FIXED[:4], *(c for c in swept if c not in FIXED), *FIXED[4:], *metrics,
               "config"]
    order = ["task", "loss", *swept, "seed"]
    try:
        table = table[columns].sort_values(order, kind="stable")
    except TypeError:  # a swept key holding numbers in some runs and text in others
        table = table[columns].sort_values(order, kind="stable", key=lambda c: c.astype(str))
    frames = [p for p in parts if not p.empty]
    curve = pd.concat(frames, ignore_index=True) if frames else empty
    return Runs(table.reset_index(drop=True), curve, swept, steps)
