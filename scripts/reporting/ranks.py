"""Average ranks of the losses over every task × setting, Friedman's test and a
critical-difference diagram (Nemenyi; Demšar 2006), saved as report/ranks.png.

Each block is one task × setting (a noise rate, an outlier fraction); a loss's
score in it is its mean over seeds of the main metric, selected on validation
where the runs have a validation split. Within a block rank 1 is the best.
Only losses with a score in every block are ranked: Friedman's test needs
complete blocks. The diagram is drawn here with matplotlib: the PyPI packages
that draw one (scikit-posthocs, autorank) bring statsmodels and more with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lossbench.metrics import higher_is_better
from scripts.reporting import stats
from scripts.reporting.comparisons import measure_for
from scripts.reporting.runs import Runs
from scripts.reporting.summary import OK, TaskSummary, shown


@dataclass
class Ranks:
    losses: list[str]       # best first
    average: list[float]    # average rank of each, same order
    blocks: list[str]       # "task, key=value" for each block ranked
    friedman: tuple[float, float] | None  # χ², p; None with fewer than 3 losses or 2 blocks
    cd: float | None        # Nemenyi critical difference at 0.05; None below 2 blocks
    notes: list[str] = field(default_factory=list)


def scores(runs: Runs, summaries: list[TaskSummary], dims: list[str], measure: str
           ) -> tuple[pd.DataFrame, list[str]]:
    """blocks × losses: mean over seeds, signed so that higher is better in every block."""
    rows, names, notes = [], [], []
    for s in summaries:
        ok = runs.table[(runs.table.task == s.task) & (runs.table.status == OK)]
        if s.metric is None or ok.empty:
            continue
        column = f"{measure_for(ok, s.metric, measure)}/{s.metric}"
        sign = 1.0 if higher_is_better(s.metric) else -1.0
        for key, block in ok.groupby(dims, dropna=False, sort=True) if dims else [((), ok)]:
            key = key if isinstance(key, tuple) else (key,)
            names.append(", ".join([s.task, *(f"{d}={shown(v)}" for d, v in
                                              zip(dims, key, strict=True))]))
            rows.append(sign * block.groupby("loss")[column].mean())
    table = pd.DataFrame(rows, index=names)
    incomplete = sorted(table.columns[table.isna().any()]) if not table.empty else []
    if incomplete:
        notes.append(f"not ranked (no score in some task × setting): {', '.join(incomplete)}.")
    return table.drop(columns=incomplete), notes


def rank(runs: Runs, summaries: list[TaskSummary], dims: list[str], measure: str
         ) -> Ranks | None:
    table, notes = scores(runs, summaries, dims, measure)
    if table.shape[1] < 2:
        return None
    average = stats.average_ranks(table.to_numpy(), higher_is_better=True)
    order = np.argsort(average, kind="stable")
    losses = [str(table.columns[i]) for i in order]
    n = len(table)
    friedman = cd = None
    if n < 2:
        notes.append("one task × setting only: ranks without a test (Friedman's needs at "
                     "least two blocks).")
    else:
        cd = stats.nemenyi_cd(len(losses), n)
        if len(losses) >= 3:
            friedman = stats.friedman(table.to_numpy())
        else:
            notes.append("two losses: Friedman's test needs three; the paired table above "
                         "tests them.")
    return Ranks(losses, [float(average[i]) for i in order], list(table.index), friedman, cd,
                 notes)


def cliques(average: list[float], cd: float) -> list[tuple[int, int]]:
    """Maximal runs of losses (sorted by rank) whose ranks differ by less than the CD."""
    groups, reach = [], -1
    for i in range(len(average)):
        j = max(j for j in range(i, len(average)) if average[j] - average[i] < cd)
        if j > i and j > reach:
            groups.append((i, j))
            reach = j
    return groups


def draw(ranks: Ranks, path: Path) -> Path | None:
    """Demšar's diagram: the rank axis (1 = best, left), each loss at its average rank,
    a bar of length CD, and thick lines joining losses not told apart by Nemenyi's test."""
    if ranks.cd is None:
        return None
    k = len(ranks.losses)
    half = math.ceil(k / 2)
    step = 0.32
    fig, ax = plt.subplots(figsize=(7.5, 1.6 + step * half * 1.6))
    ax.set_axis_off()
    ax.hlines(0, 1, k, color="black", linewidth=1)
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.08, color="black", linewidth=1)
        ax.text(r, 0.14, str(r), ha="center", va="bottom", fontsize=9)
    ax.hlines(0.62, 1, 1 + ranks.cd, color="black", linewidth=1.5)
    ax.vlines([1, 1 + ranks.cd], 0.57, 0.67, color="black", linewidth=1.5)
    ax.text(1 + ranks.cd / 2, 0.7, f"CD = {ranks.cd:.2f}", ha="center", va="bottom", fontsize=9)
    for i, (loss, r) in enumerate(zip(ranks.losses, ranks.average, strict=True)):
        left = i < half
        row = i if left else k - 1 - i
        y = -(row + 1) * step - 0.25
        end = 1 - 0.25 if left else k + 0.25
        ax.plot([r, r, end], [0, y, y], color="black", linewidth=0.9)
        ax.text(end + (-0.05 if left else 0.05), y, f"{loss} ({r:.2f})", va="center",
                ha="right" if left else "left", fontsize=10)
    for g, (i, j) in enumerate(cliques(ranks.average, ranks.cd)):
        y = -0.1 - g * 0.07
        ax.hlines(y, ranks.average[i] - 0.03, ranks.average[j] + 0.03, color="black",
                  linewidth=3.5)
    ax.set_xlim(0.2, k + 0.8)
    ax.set_ylim(-(half + 1) * step - 0.3, 1.0)
    if ranks.friedman is not None:
        chi2, p = ranks.friedman
        test = f"Friedman χ² = {chi2:.2f}, p = {p:.3g}"
    else:
        test = "no Friedman test (fewer than 3 losses)"
    ax.set_title(f"average rank over {len(ranks.blocks)} task × setting blocks (1 = best); "
                 f"{test}", fontsize=10)
    fig.savefig(path, bbox_inches="tight", dpi=130)
    plt.close(fig)
    return path


def render(ranks: Ranks | None, measure: str) -> list[str]:
    """Lines of summary.md's ranks section."""
    if ranks is None:
        return ["Fewer than two losses have a score in every task × setting: no ranks."]
    scored = {"selected": "the main test metric at the epoch selected on validation, mean "
                          "over seeds (final where runs have no validation split)",
              "final": "the final main test metric, mean over seeds"}[measure]
    rows = [f"| {loss} | {r:.2f} |" for loss, r in zip(ranks.losses, ranks.average, strict=True)]
    out = [f"Average rank over {len(ranks.blocks)} task × setting blocks, each scored by "
           f"{scored}; 1 = best:", "", "| loss | average rank |", "|---|---|", *rows, ""]
    rejected = ranks.friedman is not None and ranks.friedman[1] < stats.ALPHA
    if ranks.friedman is not None:
        chi2, p = ranks.friedman
        verdict = "the losses' ranks differ" if rejected else \
            "no difference between the losses' ranks detected"
        out.append(f"Friedman χ² = {chi2:.2f}, p = {p:.3g}: {verdict} at α = {stats.ALPHA}.")
    if ranks.cd is not None:
        pairs = [(a, b) for i, (a, ra) in enumerate(zip(ranks.losses, ranks.average,
                                                        strict=True))
                 for b, rb in list(zip(ranks.losses, ranks.average, strict=True))[i + 1:]
                 if rb - ra >= ranks.cd]
        if ranks.friedman is not None and not rejected:
            said = "Nemenyi's test is read only after Friedman's rejects, so no pair is " \
                   "called different"
        else:
            said = "; ".join(f"{a} ranks ahead of {b}" for a, b in pairs) or \
                "no two losses' average ranks differ by that much"
        out.append(f"Nemenyi critical difference (α = {stats.ALPHA}, {len(ranks.losses)} "
                   f"losses, {len(ranks.blocks)} blocks): {ranks.cd:.2f}; {said}. "
                   "Diagram: `ranks.png`; a thick line joins losses whose ranks differ by "
                   "less than the critical difference.")
    return out + ranks.notes
