"""From the results file to the leaderboard's numbers: a learning rate per setting × loss
chosen on validation, the selected test metric's mean and 95 % interval at it, a paired
test against the kind's reference loss (Holm-corrected within the setting), and average
ranks per task kind with Friedman's test and Nemenyi's critical difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lossbench.metrics import higher_is_better
from scripts.leaderboard import protocol
from scripts.reporting import stats
from scripts.reporting.comparisons import REFERENCE
from scripts.reporting.ranks import Ranks

OK = "ok"
KIND_OF = {s.task: s.kind for p in protocol.PROTOCOLS.values() for s in p.sweeps}
METRIC = {"multiclass": "test/accuracy", "binary": "test/accuracy", "regression": "test/mse"}


def setting_of(row: pd.Series) -> str:
    """`symmetric 0.4`, `asymmetric 0.4`, `outliers 0.1`: the corruption a run trained under."""
    if KIND_OF.get(row.task) == "regression":
        return f"outliers {float(row['task.outlier_fraction']):g}"
    noise = float(row["task.label_noise"])
    return "clean" if noise == 0 else f"{row['task.noise_type']} {noise:g}"


def grid_rows(results: pd.DataFrame) -> pd.DataFrame:
    table = results[results.sweep.map(lambda s: not str(s).startswith("published"))].copy()
    table["kind"] = table.task.map(KIND_OF)
    table["setting"] = table.apply(setting_of, axis=1)
    return table


def choose_lr(runs: pd.DataFrame, val: str) -> float | None:
    """The learning rate whose seeds' mean validation metric (at their selected epochs) is
    best, among those where every seed finished ok; None when none did."""
    means = {}
    for lr, group in runs.groupby("lr"):
        if (group.status == OK).all() and group[val].notna().all():
            means[float(lr)] = group[val].mean()
    if not means:
        return None
    pick = max if higher_is_better(val) else min
    return pick(means, key=lambda lr: (means[lr], -lr))  # ties: the smaller rate


@dataclass
class Cell:
    kind: str
    task: str
    setting: str
    loss: str
    lr: float | None
    scores: dict[int, float]  # seed → selected test metric at lr
    interval: stats.Interval | None = None
    difference: float = math.nan  # mean paired difference with the reference
    p_holm: float = math.nan
    verdict: str = ""


def cells(results: pd.DataFrame) -> list[Cell]:
    out: list[Cell] = []
    table = grid_rows(results)
    for (kind, task, setting), block in table.groupby(["kind", "task", "setting"], sort=False):
        metric = METRIC[kind]
        val = "selected/" + metric.replace("test/", "val/")
        row: dict[str, Cell] = {}
        for loss, runs in block.groupby("loss", sort=False):
            lr = choose_lr(runs, val)
            at = runs[runs.lr.astype(float) == lr] if lr is not None else runs.iloc[:0]
            scores = dict(zip(at.seed.astype(int), at[f"selected/{metric}"], strict=True))
            cell = Cell(kind, task, setting, str(loss), lr, scores)
            cell.interval = stats.mean_ci(list(scores.values())) if scores else None
            row[cell.loss] = cell
        _verdicts(row, REFERENCE[kind], higher_is_better(metric))
        out.extend(row.values())
    return out


def _verdicts(row: dict[str, Cell], reference: str, higher: bool) -> None:
    base = row.get(reference)
    others = [c for c in row.values() if c.loss != reference and c.scores and base
              and base.scores]
    tests = []
    for cell in others:
        seeds = sorted(set(cell.scores) & set(base.scores))
        tests.append(stats.paired([cell.scores[s] for s in seeds],
                                  [base.scores[s] for s in seeds]))
    for cell, test, p in zip(others, tests, stats.holm([t.p_t for t in tests]), strict=True):
        cell.difference, cell.p_holm = test.difference.mean, p
        cell.verdict = stats.verdict(test.difference.mean, p, higher, test.n)
    if base is not None:
        base.verdict = "reference"


def ranks(found: list[Cell], kind: str) -> Ranks | None:
    """Average ranks of the kind's losses over its task × setting blocks (1 = best)."""
    mine = [c for c in found if c.kind == kind and c.interval is not None]
    if not mine:
        return None
    sign = 1.0 if higher_is_better(METRIC[kind]) else -1.0
    frame = pd.DataFrame([{"block": f"{c.task}, {c.setting}", "loss": c.loss,
                           "score": sign * c.interval.mean} for c in mine])
    table = frame.pivot(index="block", columns="loss", values="score")
    notes = []
    incomplete = sorted(table.columns[table.isna().any()])
    if incomplete:
        notes.append(f"not ranked (no score in some block): {', '.join(incomplete)}.")
    table = table.drop(columns=incomplete)
    if table.shape[1] < 2:
        return None
    average = stats.average_ranks(table.to_numpy(), higher_is_better=True)
    order = np.argsort(average, kind="stable")
    n = len(table)
    friedman = stats.friedman(table.to_numpy()) if n >= 2 and table.shape[1] >= 3 else None
    cd = stats.nemenyi_cd(table.shape[1], n) if n >= 2 else None
    return Ranks([str(table.columns[i]) for i in order], [float(average[i]) for i in order],
                 list(table.index), friedman, cd, notes)


def frame(found: list[Cell]) -> pd.DataFrame:
    """The leaderboard's CSV: one row per task × setting × loss."""
    return pd.DataFrame([{
        "kind": c.kind, "task": c.task, "setting": c.setting, "loss": c.loss,
        "metric": METRIC[c.kind], "lr": c.lr, "seeds": len(c.scores),
        "mean": c.interval.mean if c.interval else math.nan,
        "low": c.interval.low if c.interval else math.nan,
        "high": c.interval.high if c.interval else math.nan,
        "difference": c.difference, "p_holm": c.p_holm, "verdict": c.verdict,
    } for c in found])
