"""`--baseline`: pair a sweep's runs with stored runs of other losses it did not rerun.

A baseline is another sweep dir, or its `report/results.csv` (one row per run: the config
it was trained with, its seed, final/selected/oracle metrics and environment), which is
how baselines travel. Runs pair when everything but the loss agrees: task config, model,
optimiser, schedule, epochs, seed, data seed and noise (the `config` column: the run's
flattened hyperparameters without `loss.*` and without keys that change how a run is
watched, not what it computes). One run of the sweep with no such partner in the baseline
refuses the whole pairing, naming the key that differs: no apples-to-oranges table.
A baseline from other code or hardware is paired, and the report's environment warning
says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lossbench.errors import UserError
from scripts.reporting import runs


def read(path: Path) -> pd.DataFrame:
    """The baseline's runs: a folder of runs, or a results.csv a report wrote."""
    if path.is_dir():
        table = runs.load(path).table
    elif path.is_file():
        try:
            table = pd.read_csv(path)
        except (OSError, ValueError) as err:
            raise UserError(f"--baseline {path}: not a results.csv ({type(err).__name__})."
                            ) from None
    else:
        raise UserError(f"--baseline {path}: no such file or folder.")
    if table.empty or "config" not in table:
        raise UserError(f"--baseline {path}: no runs with their configuration (a sweep dir, "
                        "or the report/results.csv of one, written by this lossbench).")
    return table


def _difference(ours: str, theirs: pd.Series) -> str:
    """The keys by which `ours` differs from the nearest baseline config, as a phrase."""
    mine = json.loads(ours)
    best: list[str] | None = None
    for text in theirs.unique():
        other = json.loads(text)
        keys = sorted(k for k in mine.keys() | other.keys() if mine.get(k) != other.get(k))
        words = [f"{k} is {mine.get(k)!r} in yours and {other.get(k)!r} in the baseline's"
                 for k in keys]
        if best is None or len(words) < len(best):
            best = words
    return "; ".join(best or [])


def pair(found: runs.Runs, path: Path) -> runs.Runs:
    """The sweep's runs with the baseline's runs of other losses (UserError when a run of the
    sweep has no partner)."""
    base = read(path)
    table = found.table
    for _, run in table.iterrows():
        same_task = base[base.task == run.task]
        if same_task.empty:
            raise UserError(f"--baseline {path}: it holds no run of task={run.task}.")
        partners = same_task[(same_task.config == run.config)
                             & (same_task.seed.astype(str) == str(run.seed))]
        if partners.empty:
            raise UserError(f"--baseline {path}: no baseline run of task={run.task} seed="
                            f"{run.seed} differs from yours ({run.run}) in the loss alone: "
                            f"{_difference(run.config, same_task.config)}.")
    ours = set(zip(table.loss, table.config, table.seed.astype(str), strict=True))
    extra = base[[(loss, config, str(seed)) not in ours for loss, config, seed in
                  zip(base.loss, base.config, base.seed, strict=True)]]
    extra = extra[extra.task.isin(table.task.unique())
                  & extra.config.isin(table.config.unique())]
    extra = extra.assign(run="baseline:" + extra.run.astype(str))
    merged = pd.concat([table, extra[[c for c in extra.columns if c in table.columns]]],
                       ignore_index=True)
    return runs.Runs(merged, found.curves, found.swept, found.steps)
