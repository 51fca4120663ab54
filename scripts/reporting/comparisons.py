"""Every loss against a reference loss, per task and setting, pairs matched by seed.

Runs with the same seed share the data, the validation split, the label-noise or
outlier draw and the initial weights, whatever the loss; only the loss differs.
So each seed gives one paired difference, and the test asks whether the mean of
those differences is zero. Holm's adjustment runs over the whole table, so a
table of many comparisons does not find differences by chance alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from lossbench.metrics import higher_is_better
from scripts.reporting import stats
from scripts.reporting.runs import Runs
from scripts.reporting.summary import OK, TaskSummary, shown

# The loss every other is compared with, by the task's target kind.
REFERENCE = {"multiclass": "ce", "binary": "bce_logits", "regression": "mse"}
# ce reads one binary logit as the classes [0, z], which is bce_logits: a binary sweep of ce
# without bce_logits is compared with ce.
STAND_IN = {"bce_logits": "ce"}
MEASURES = ("selected", "final")


def default_reference(task: str, reported: Iterable[str] = ()) -> str | None:
    """The reference for the task's kind. A task whose kind is its data's (task=table: KIND
    None) is known by what its runs `reported`: test/mse for regression, test/auc for
    binary, accuracy alone for multiclass (tasks/table.py's METRICS)."""
    import tasks

    if task not in tasks.names():
        return None
    kind = tasks.get(task).KIND
    if kind is None:
        from tasks.table import METRICS

        shown = {c.rpartition("test/")[2] for c in reported if "test/" in c}
        kind = next((k for k, names in METRICS.items() if set(names) <= shown), None)
    return REFERENCE.get(kind)


def measure_for(table: pd.DataFrame, metric: str, wanted: str) -> str:
    """`selected` needs a validation split; without one, runs are compared on `final`."""
    column = f"selected/{metric}"
    if wanted == "selected" and (column not in table or table[column].isna().all()):
        return "final"
    return wanted


@dataclass
class Comparisons:
    table: pd.DataFrame  # one row per task × setting × loss; numbers unformatted
    notes: list[str]     # why a task has no comparisons, which measure was used


def compare(runs: Runs, summaries: list[TaskSummary], dims: list[str],
            reference: str | None = None, measure: str = "selected") -> Comparisons:
    rows, notes = [], []
    for s in summaries:
        ok = runs.table[(runs.table.task == s.task) & (runs.table.status == OK)]
        if s.metric is None or ok.empty:
            continue
        ref = reference or default_reference(
            s.task, [c for c in ok.columns if ok[c].notna().any()])
        if reference is None and ref not in set(ok.loss) and STAND_IN.get(ref) in set(ok.loss):
            ref = STAND_IN[ref]
        if ref is None or ref not in set(ok.loss):
            notes.append(f"{s.task}: no finished runs of the reference loss "
                         f"`{ref}`, so no comparisons (choose one with --reference).")
            continue
        used = measure_for(ok, s.metric, measure)
        if used != measure:
            notes.append(f"{s.task}: no validation split, so losses are compared on the "
                         f"final {s.metric}.")
        column = f"{used}/{s.metric}"
        for key, block in ok.groupby(dims, dropna=False, sort=True) if dims else [((), ok)]:
            key = key if isinstance(key, tuple) else (key,)
            setting = dict(zip(dims, map(shown, key), strict=True))
            # by seed; a seed run twice (two sweeps in one folder) counts once, averaged
            base = block[block.loss == ref].groupby("seed")[column].mean()
            for loss, group in block[block.loss != ref].groupby("loss", sort=True):
                pairs = pd.concat([group.groupby("seed")[column].mean(), base], axis=1,
                                  keys=["loss", "ref"], join="inner").dropna()
                result = stats.paired(pairs["loss"].tolist(), pairs["ref"].tolist())
                rows.append({"task": s.task, **setting, "loss": loss, "reference": ref,
                             "metric": column, "n": result.n,
                             "difference": result.difference.mean,
                             "low": result.difference.low, "high": result.difference.high,
                             "p_t": result.p_t, "p_wilcoxon": result.p_wilcoxon,
                             "higher_is_better": higher_is_better(s.metric)})
    table = pd.DataFrame(rows)
    if not table.empty:
        table["p_t_holm"] = stats.holm(table.p_t.tolist())
        table["p_wilcoxon_holm"] = stats.holm(table.p_wilcoxon.tolist())
        table["verdict"] = [stats.verdict(r.difference, r.p_t_holm, r.higher_is_better, r.n)
                            for r in table.itertuples()]
    return Comparisons(table, notes)


def _number(value: float, digits: int = 3) -> str:
    return "—" if not math.isfinite(value) else f"{value:.{digits}g}"


def _p(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def formatted(comparisons: Comparisons, dims: list[str]) -> pd.DataFrame:
    """The table as summary.md shows it."""
    rows = []
    for r in comparisons.table.to_dict("records"):
        interval = "" if not math.isfinite(r["low"]) else \
            f" [{_number(r['low'])}, {_number(r['high'])}]"
        rows.append({"task": r["task"], **{d: r[d] for d in dims}, "loss": r["loss"],
                     "vs": r["reference"], "n": r["n"],
                     "difference (95% CI)": _number(r["difference"]) + interval,
                     "p (t, Holm)": _p(r["p_t_holm"]),
                     "p (Wilcoxon, Holm)": _p(r["p_wilcoxon_holm"]),
                     "verdict": r["verdict"]})
    return pd.DataFrame(rows)


def render(comparisons: Comparisons, dims: list[str]) -> list[str]:
    """Lines of summary.md's paired-comparison section."""
    from scripts.reporting.summary import markdown_table

    out = ["", "## Paired comparisons against a reference loss", ""]
    table = comparisons.table
    if table.empty:
        return [*out, "No comparisons.", *comparisons.notes]
    on = ", ".join(f"`{m}`" for m in dict.fromkeys(table.metric))
    out.append(
        f"Difference: the mean over seeds of (loss − reference) on {on}, each seed's two runs "
        "sharing data, validation split, corruption draw and initial weights, with its 95 % "
        "Student-t interval. p: two-sided paired t-test and, from "
        f"{stats.MIN_WILCOXON} pairs on, Wilcoxon's signed-rank test, each Holm-adjusted over "
        f"the {int(table.p_t.notna().sum())} comparisons of this table. Verdict: the adjusted "
        f"t-test at α = {stats.ALPHA}, read in the metric's direction.")
    if table.n.max() < 2:
        out.append(f"Every comparison has a single pair: {stats.NO_INTERVAL} and no test. "
                   "For claims, run several seeds, e.g. `seed='range(10)'`.")
    return [*out, "", markdown_table(formatted(comparisons, dims)), *comparisons.notes]
