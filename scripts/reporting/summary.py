"""Runs grouped by task × loss × swept value: seeds averaged with 95 % intervals, statuses
counted."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from lossbench.metrics import higher_is_better
from lossbench.status import RunStatus
from scripts.reporting import environment, stats
from scripts.reporting.runs import Runs

# Default targets for "epochs to reach": a good but not final score for each metric.
# Regression targets have unit variance, so test/mse 0.1 means R² = 0.9.
TARGETS = {"test/accuracy": 0.9, "test/auc": 0.95, "test/r2": 0.9, "test/mse": 0.1,
           "test/mae": 0.25}
# The metric a task is judged by: the first of these it reports.
PREFERRED = ("test/accuracy", "test/mse")
PROBLEMS = tuple(str(s) for s in RunStatus if s != RunStatus.OK)
ALWAYS_SHOWN = (str(RunStatus.DIVERGED), str(RunStatus.SKIPPED), str(RunStatus.FAILED))
OK = RunStatus.OK.value


def main_metric(table: pd.DataFrame) -> str | None:
    present = [c.removeprefix("final/") for c in table.columns
               if c.startswith("final/test/") and table[c].notna().any()]
    for tag in PREFERRED:
        if tag in present:
            return tag
    return next((t for t in present if t != "test/loss"), present[0] if present else None)


def dimensions(table: pd.DataFrame, swept: list[str]) -> list[str]:
    """Swept keys that take several values within one task × loss (not just across pairs)."""
    def within(column: str) -> int:
        return table.groupby(["task", "loss"])[column].agg(lambda s: s.astype(str).nunique()).max()

    return [c for c in swept if within(c) > 1]


def target_text(metric: str, target: float) -> str:
    return f"{metric} {'≥' if higher_is_better(metric) else '≤'} {target:g}"


def epochs_to(curves: pd.DataFrame, metric: str, target: float) -> pd.Series:
    """Per run, the first epoch whose metric meets the target (absent when none does)."""
    rows = curves[curves.tag == metric]
    met = rows.value >= target if higher_is_better(metric) else rows.value <= target
    return rows[met].groupby("run").epoch.min()


def shown(value: object) -> object:
    return f"{value:g}" if isinstance(value, float) else value


def mean_ci(values: pd.Series) -> str:
    """`mean ± half-width of the 95 % Student-t interval`; one value has no interval."""
    ci = stats.mean_ci(values.dropna().tolist())
    if ci.n == 0:
        return "—"
    if ci.n == 1:
        return f"{ci.mean:.4g} (one seed)"
    return f"{ci.mean:.4g} ± {(ci.high - ci.low) / 2:.2g}"


def has_selection(table: pd.DataFrame) -> bool:
    """Whether any run had a validation split, and so a `selected` epoch."""
    return any(c.startswith("selected/") and table[c].notna().any() for c in table.columns)


@dataclass
class TaskSummary:
    task: str
    metric: str | None
    target: float | None
    table: pd.DataFrame  # one row per loss × swept value, formatted for reading


def summarise_task(runs: Runs, task: str, dims: list[str],
                   targets: dict[str, float]) -> TaskSummary:
    table = runs.table[runs.table.task == task]
    metric = main_metric(table)
    target = targets.get(metric) if metric else None
    reached = epochs_to(runs.curves, metric, target) if target is not None else pd.Series()
    selection = has_selection(table)
    rows = []
    for key, group in table.groupby(["loss", *dims], sort=False, dropna=False):
        ok = group[group.status == OK]
        row = dict(zip(["loss", *dims], map(shown, key), strict=True))
        row.update(runs=len(group), lr=", ".join(f"{v:g}" for v in sorted(set(group.lr))))
        if metric:
            row["n"] = int(ok.get(f"final/{metric}", pd.Series()).notna().sum())
            row[f"final {metric}"] = mean_ci(ok.get(f"final/{metric}", pd.Series()))
            if selection:
                row[f"selected {metric}"] = mean_ci(ok.get(f"selected/{metric}", pd.Series()))
                epochs = ok.get("selected/epoch", pd.Series()).dropna()
                row["selected epoch"] = f"{epochs.mean():.3g}" if len(epochs) else "—"
            row[f"oracle {metric}"] = mean_ci(ok.get(f"best/{metric}", pd.Series()))
        if target is not None:
            hits = reached.reindex(ok.run).dropna()
            mean = f"{hits.mean():.3g}" if len(hits) else "—"
            row[f"epochs to {target_text(metric, target)}"] = f"{mean} ({len(hits)}/{len(ok)})"
        shares = runs.steps[(runs.steps.tag == "grad/corrupted_share")
                            & runs.steps.run.isin(ok.run)]
        if not shares.empty:  # trainer.diagnostics=true on a task that corrupts data
            row["mean grad/corrupted_share"] = f"{shares.value.mean():.3f}"
        for status in PROBLEMS:
            if status in ALWAYS_SHOWN or (runs.table.status == status).any():
                row[status] = int((group.status == status).sum())
        rows.append(row)
    return TaskSummary(task, metric, target, pd.DataFrame(rows))


def summarise(runs: Runs, targets: dict[str, float]) -> list[TaskSummary]:
    dims = dimensions(runs.table, runs.swept)
    return [summarise_task(runs, task, dims, targets) for task in sorted(set(runs.table.task))]


def best_lr(runs: Runs, summaries: list[TaskSummary]) -> pd.DataFrame:
    """When lr was swept: per task × loss (× other swept value), the lr with the best mean
    final main metric on the validation split (on the test set only for runs without one),
    and the test metric at that lr."""
    others = [d for d in dimensions(runs.table, runs.swept) if d != "lr"]
    rows = []
    for s in summaries:
        ok = runs.table[(runs.table.task == s.task) & (runs.table.status == OK)]
        if s.metric is None or ok.empty:
            continue
        val = f"final/val/{s.metric.removeprefix('test/')}"
        chosen_on = val if val in ok and ok[val].notna().any() else f"final/{s.metric}"
        columns = list(dict.fromkeys([chosen_on, f"final/{s.metric}"]))
        means = ok.groupby(["loss", *others, "lr"], dropna=False)[columns].mean()
        for key, by_lr in means.groupby(level=list(range(1 + len(others))), dropna=False):
            by_lr = by_lr.dropna(subset=[chosen_on])
            if by_lr.empty:
                continue
            on = by_lr[chosen_on]
            best = on.idxmax() if higher_is_better(s.metric) else on.idxmin()
            key = key if isinstance(key, tuple) else (key,)
            named = dict(zip(["loss", *others], map(shown, key), strict=True))
            rows.append({"task": s.task, **named, "best lr": f"{best[-1]:g}",
                         "chosen on": chosen_on.removeprefix("final/"),
                         f"final {s.metric}": f"{by_lr.loc[best, f'final/{s.metric}']:.4g}",
                         "lrs that finished": len(by_lr)})
    return pd.DataFrame(rows)


def markdown_table(frame: pd.DataFrame) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float) and math.isnan(value):
            return "—"
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in frame.itertuples(index=False)]
    return "\n".join(lines)


def status_line(table: pd.DataFrame) -> str:
    counts = table.status.value_counts()
    parts = [f"{counts[s]} {s}" for s in (OK, *PROBLEMS) if s in counts]
    parts += [f"{n} {s}" for s, n in counts.items() if s not in (OK, *PROBLEMS)]
    return f"{len(table)} run{'' if len(table) == 1 else 's'}: {', '.join(parts)}."


def problems(table: pd.DataFrame, limit: int = 20) -> list[str]:
    """One line per run that did not finish cleanly, so a partial sweep says so."""
    bad = table[table.status != OK]
    # A missing reason is NaN in the table (a hand-edited or killed run's record), not text.
    lines = [f"- `{r.run}`: {r.status}" + (f": {r.reason}" if isinstance(r.reason, str)
                                           and r.reason else "")
             for r in bad.head(limit).itertuples()]
    if len(bad) > limit:
        lines.append(f"- … and {len(bad) - limit} more (see results.csv)")
    return lines


EXPLAINED = (
    "Each cell is the mean over seeds of the runs that finished (status ok, `n` of them) "
    "± the half-width of its 95 % Student-t confidence interval, mean ± t(n−1)·s/√n. "
    "`final`: the last epoch. `selected`: the epoch whose validation main metric was best "
    "(mean epoch in `selected epoch`), so chosen without the test set. `oracle`: each run's "
    "best test value over its epochs, chosen by looking at the test set, so an optimistic "
    "figure. `runs` counts every run in the row, whatever its status. Epochs to target: the "
    "mean first epoch that met it, over the runs that did (reached/finished).")


def render(runs: Runs, summaries: list[TaskSummary], title: str,
           sections: list[str] | None = None) -> str:
    out = [f"# lossbench report: {title}", "", status_line(runs.table), "", EXPLAINED,
           *environment.warning(runs.table)]
    ok = runs.table[runs.table.status == OK]
    if not ok.empty and ok.groupby(["task", "loss", *dimensions(runs.table, runs.swept)],
                                   dropna=False).size().max() < 2:
        out += ["", f"Every row holds one finished run: {stats.NO_INTERVAL}, and no paired "
                "test. For claims, run several seeds, e.g. `seed='range(10)'`."]
    for s in summaries:
        metric = f"{s.metric} ({'higher' if higher_is_better(s.metric) else 'lower'} is better)" \
            if s.metric else "no finished run"
        out += ["", f"## {s.task}: {metric}", "", markdown_table(s.table)]
    out += sections or []
    if "lr" in runs.swept and not (lrs := best_lr(runs, summaries)).empty:
        out += ["", "## Best learning rate per task × loss", "", markdown_table(lrs)]
    if bad := problems(runs.table):
        out += ["", "## Runs that did not finish", "", *bad]
    return "\n".join(out) + "\n"
