"""Figures for a write-up: curves per task, and the main metric against each swept number.

Lines are the mean over seeds; the shaded band is its 95 % Student-t confidence
interval (none where there is one seed).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt
import pandas as pd

from lossbench.errors import is_number
from lossbench.metrics import higher_is_better
from lossbench.status import RunStatus
from scripts.reporting import stats
from scripts.reporting.runs import Runs
from scripts.reporting.summary import TaskSummary, dimensions, has_selection, shown

BAND = "band: 95% CI"

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.grid": True,
                     "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False})


def styles(losses: list[str]) -> dict[str, dict]:
    """A colour, dash and marker per loss, so lines that coincide (huber with delta=1 is
    smoothl1 with beta=1) still show as two."""
    cmap = plt.get_cmap("tab10")
    dashes, markers = ["-", "--", "-.", ":"], ["o", "s", "^", "D", "v", "P", "X"]
    return {loss: {"color": cmap(i % 10), "linestyle": dashes[i % 4], "marker": markers[i % 7]}
            for i, loss in enumerate(sorted(losses))}


def log_scale(values: pd.Series, ratio: float) -> bool:
    values = values.dropna()
    return bool(len(values)) and values.min() > 0 and values.max() / values.min() >= ratio


def numeric(table: pd.DataFrame, column: str) -> bool:
    values = table[column].dropna()
    return len(values) > 1 and all(is_number(v) for v in values)


def intervals(grouped: pd.core.groupby.SeriesGroupBy) -> pd.DataFrame:
    """Per group: mean, and low/high of its 95 % interval over seeds (NaN for one seed)."""
    agg = grouped.agg(["mean", "std", "count"])
    half = stats.half_width(agg["std"].to_numpy(), agg["count"].to_numpy())
    return pd.DataFrame({"mean": agg["mean"], "low": agg["mean"] - half,
                         "high": agg["mean"] + half}, index=agg.index)


def band(ax: plt.Axes, x: pd.Series, values: pd.DataFrame, style: dict, label: str) -> None:
    ax.plot(x, values["mean"], label=label, markersize=4, **{
        **style, "marker": style["marker"] if len(x) <= 20 else None})
    ax.fill_between(x, values["low"].astype(float), values["high"].astype(float),
                    color=style["color"], alpha=0.2, linewidth=0)


def legend(fig: plt.Figure, ax: plt.Axes) -> None:
    """One legend for the figure, outside the panels."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, title="loss", loc="outside right upper", fontsize=9)


def facets(table: pd.DataFrame, dims: list[str]) -> list[tuple[str, pd.DataFrame]]:
    if not dims:
        return [("", table)]
    return [(", ".join(f"{d}={shown(v)}" for d, v in zip(dims, key, strict=True)), group)
            for key, group in table.groupby(dims, sort=True, dropna=False)]


def grid(n: int, width: float = 4.2, height: float = 3.2):
    cols = min(3, n)
    rows = math.ceil(n / cols)
    # Wide enough for the title and the legend even with one panel.
    fig, axes = plt.subplots(rows, cols, figsize=(max(8.0, width * cols + 1.3),
                                                  height * rows + 0.6),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def loss_bands(ax: plt.Axes, group: pd.DataFrame, values: pd.DataFrame, x: str,
               style: dict[str, dict]) -> None:
    """One band per loss of the panel's runs: `values` (run, `x`, value) summed up at
    each `x` (epoch or step) over that loss's runs."""
    for loss, by_loss in group.groupby("loss"):
        summary = intervals(values[values.run.isin(by_loss.run)].groupby(x).value)
        band(ax, summary.index.to_series(), summary, style[loss], loss)


def curves_figure(runs: Runs, s: TaskSummary, dims: list[str], out: Path) -> Path | None:
    table = runs.table[runs.table.task == s.task]
    curve = runs.curves[(runs.curves.tag == s.metric) & runs.curves.run.isin(table.run)]
    if curve.empty:
        return None
    style = styles(list(set(table.loss)))
    panels = facets(table[table.run.isin(curve.run)], dims)
    fig, axes = grid(len(panels))
    for ax, (title, group) in zip(axes, panels, strict=False):
        loss_bands(ax, group, curve, "epoch", style)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(s.metric)
    if not higher_is_better(s.metric) and log_scale(curve.value, 30):
        axes[0].set_yscale("log")
    if len(panels) % 3 == 0 or len(panels) < 3:  # a full grid: label only its outer edge
        for ax in axes[: len(panels)]:
            ax.label_outer()
    legend(fig, axes[0])
    fig.suptitle(f"{s.task}: {s.metric} per epoch (mean over seeds, {BAND})")
    return save(fig, out / f"{s.task}_curves.png")


def sweep_figure(runs: Runs, s: TaskSummary, key: str, dims: list[str], out: Path) -> Path:
    """Final, selected and oracle metric against one swept number, one line per loss."""
    table = runs.table[(runs.table.task == s.task) & (runs.table.status == RunStatus.OK.value)]
    others = [d for d in dims if d != key]
    style = styles(list(set(runs.table[runs.table.task == s.task].loss)))
    kinds = {"final": "last epoch", "selected": "epoch chosen on validation",
             "best": "oracle: epoch chosen on test"}
    if not has_selection(table):
        del kinds["selected"]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 3.9), sharey=True,
                             squeeze=False, layout="constrained")
    for ax, (kind, meaning) in zip(axes.flat, kinds.items(), strict=True):
        column = f"{kind}/{s.metric}"
        for (loss, *rest), group in table.groupby(["loss", *others], dropna=False):
            values = intervals(group.groupby(key)[column]).sort_index()
            label = ", ".join([loss, *(f"{d}={v}" for d, v in zip(others, rest, strict=True))])
            band(ax, values.index.to_series(), values, style[loss], label)
        ax.set_title(f"{s.metric} ({meaning})", fontsize=10)
        ax.set_xlabel(key)
        ax.set_ylabel(s.metric)
        if log_scale(table[key].astype(float), 100):
            ax.set_xscale("log")
    values = table[[f"{kind}/{s.metric}" for kind in kinds]].stack()
    if not higher_is_better(s.metric) and log_scale(values, 30):
        axes[0, 0].set_yscale("log")
    legend(fig, axes[0, 0])
    fig.suptitle(f"{s.task}: {s.metric} against {key} (mean over seeds, {BAND})")
    return save(fig, out / f"{s.task}_{key.replace('/', '-')}.png")


def diagnostics_figure(runs: Runs, s: TaskSummary, dims: list[str], out: Path) -> Path | None:
    """grad/corrupted_share over training, one line per loss, beside the corrupted fraction."""
    table = runs.table[runs.table.task == s.task]
    here = runs.steps[runs.steps.run.isin(table.run)]
    share = here[here.tag == "grad/corrupted_share"]
    if share.empty:
        return None
    fraction = here[here.tag == "data/corrupted_fraction"]
    style = styles(list(set(table.loss)))
    panels = facets(table[table.run.isin(share.run)], dims)
    fig, axes = grid(len(panels))
    for ax, (title, group) in zip(axes, panels, strict=False):
        loss_bands(ax, group, share, "step", style)
        batch = fraction[fraction.run.isin(group.run)].groupby("step").value.mean()
        ax.plot(batch.index, batch.values, color="gray", linestyle=":", linewidth=1.5,
                label="corrupted share of the batch")
        ax.set_title(title, fontsize=10)
        ax.set(xlabel="step", ylabel="grad/corrupted_share", ylim=(0, 1))
    legend(fig, axes[0])
    fig.suptitle(f"{s.task}: share of the output-gradient mass from corrupted samples")
    return save(fig, out / f"{s.task}_corrupted_share.png")


def save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path)
    plt.close(fig)
    return path


def draw(runs: Runs, summaries: list[TaskSummary], out: Path) -> list[Path]:
    dims = dimensions(runs.table, runs.swept)
    paths = []
    for s in summaries:
        if s.metric is None:
            continue
        paths.append(curves_figure(runs, s, dims, out))
        paths.append(diagnostics_figure(runs, s, dims, out))
        table = runs.table
        finished = table[(table.task == s.task) & (table.status == RunStatus.OK.value)]
        for key in dims:
            if numeric(finished, key) and finished[key].nunique() > 1:
                paths.append(sweep_figure(runs, s, key, dims, out))
    return [p for p in paths if p is not None]
