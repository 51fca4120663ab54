"""docs/leaderboard.md, written from the results file and its meta.json alone, so that the
test can regenerate it and compare (tests/test_leaderboard.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from scripts.leaderboard import protocol, published, tables
from scripts.leaderboard.tables import Cell
from scripts.reporting import stats
from scripts.reporting.comparisons import REFERENCE
from scripts.reporting.ranks import Ranks

MARK = {"better": "▲", "worse": "▼", "no detectable difference": "=", "reference": "ref"}
TITLES = {"multiclass": "Multiclass: label noise", "binary": "Binary: label noise",
          "regression": "Regression: outliers in the training targets"}


def number(value: float, metric: str) -> str:
    return f"{value:.4f}" if "accuracy" in metric else f"{value:.4g}"


def cell_text(cell: Cell) -> str:
    if cell.interval is None or cell.interval.n == 0:
        return "diverged at every lr"
    metric = tables.METRIC[cell.kind]
    text = number(cell.interval.mean, metric)
    if cell.interval.n > 1:
        text += f" ± {number((cell.interval.high - cell.interval.low) / 2, metric)}"
    return f"{text} {MARK.get(cell.verdict, '?')} · {cell.lr:g}"


def task_table(found: list[Cell], task: str) -> list[str]:
    mine = [c for c in found if c.task == task]
    settings = list(dict.fromkeys(c.setting for c in mine))
    losses = list(dict.fromkeys(c.loss for c in mine))
    by = {(c.loss, c.setting): c for c in mine}
    reference = REFERENCE[mine[0].kind]
    losses.sort(key=lambda loss: loss != reference)
    out = [f"| loss | {' | '.join(settings)} |", "|---|" + "---|" * len(settings)]
    for loss in losses:
        texts = [cell_text(by[loss, s]) if (loss, s) in by else "—" for s in settings]
        out.append(f"| {loss} | {' | '.join(texts)} |")
    return out


def ranks_text(ranked: Ranks | None, kind: str, figure: str) -> list[str]:
    if ranked is None:
        return ["No ranks: fewer than two losses have a score in every block."]
    rows = [f"| {loss} | {r:.2f} |" for loss, r in zip(ranked.losses, ranked.average,
                                                       strict=True)]
    out = [f"Average rank over {len(ranked.blocks)} blocks (task × setting; 1 = best):", "",
           "| loss | average rank |", "|---|---|", *rows, ""]
    if ranked.friedman is not None:
        chi2, p = ranked.friedman
        out.append(f"Friedman χ² = {chi2:.2f}, p = {p:.3g}; Nemenyi critical difference "
                   f"{ranked.cd:.2f} (α = {stats.ALPHA}). Diagram: "
                   f"[{figure}](leaderboard/{figure}).")
    elif ranked.cd is not None:
        out.append(f"Nemenyi critical difference {ranked.cd:.2f}. Diagram: "
                   f"[{figure}](leaderboard/{figure}).")
    return out + ranked.notes


def advice(found: list[Cell], ranked: Ranks | None, kind: str) -> str:
    """What the table shows, and no more: the best average rank, the losses the critical
    difference cannot separate from it, and which losses beat or trail the reference."""
    mine = [c for c in found if c.kind == kind]
    reference = REFERENCE[kind]
    blocks = len({(c.task, c.setting) for c in mine})
    better: dict[str, list[str]] = {}
    worse: dict[str, list[str]] = {}
    for c in mine:
        where = f"{c.task} {c.setting}"
        if c.verdict == "better":
            better.setdefault(c.loss, []).append(where)
        elif c.verdict == "worse":
            worse.setdefault(c.loss, []).append(where)
    sentences = []
    if ranked is not None:
        top, r = ranked.losses[0], ranked.average[0]
        text = f"`{top}` has the best average rank ({r:.2f} over {blocks} blocks)"
        if ranked.friedman is not None and ranked.friedman[1] >= stats.ALPHA:
            text += ", but Friedman's test finds no difference between the ranks: the order " \
                    "is not evidence"
        elif ranked.cd is not None:
            behind = [loss for loss, a in zip(ranked.losses[1:], ranked.average[1:],
                                              strict=True) if a - r >= ranked.cd]
            text += (f"; by the critical difference it ranks ahead of "
                     f"{', '.join(f'`{n}`' for n in behind)} and is not told apart from the "
                     f"other {len(ranked.losses) - 1 - len(behind)}" if behind else
                     "; the critical difference tells it apart from none of the others")
        sentences.append(text + ".")
    if better:
        sentences.append(f"Detectably better than `{reference}` (paired over seeds, Holm): "
                         + "; ".join(f"`{loss}` in {', '.join(w)}" for loss, w in
                                     better.items()) + ".")
    else:
        sentences.append(f"No loss is detectably better than `{reference}` in any setting.")
    if worse:
        sentences.append(f"Detectably worse than `{reference}`: " + "; ".join(
            f"`{loss}` in {', '.join(w)}" for loss, w in worse.items()) + ".")
    never = sorted({c.loss for c in mine} - set(worse) - {reference})
    if never:
        sentences.append(f"Never detectably worse than `{reference}`: "
                         + ", ".join(f"`{n}`" for n in never) + ".")
    return "On this grid: " + " ".join(sentences)


def render(results: pd.DataFrame, meta: dict[str, Any], figures: dict[str, str]) -> str:
    found = tables.cells(results)
    grid = tables.grid_rows(results)
    p = protocol.PROTOCOLS[meta["protocol"]]
    out = ["# lossbench leaderboard", "",
           f"Generated by `{meta['command']}` from `{meta['results']}` ({len(grid)} runs of "
           f"the grid); edit the code, not this file: tests/test_leaderboard.py regenerates it "
           f"from the results file and compares.", "",
           f"**Wall time: {meta['wall_s'] / 60:.1f} min** on {meta['machine']}, started "
           f"{meta['started']}.", "", *protocol_text(p, meta), ""]
    for kind in ("multiclass", "binary", "regression"):
        if not any(c.kind == kind for c in found):
            continue
        metric = tables.METRIC[kind]
        out += [f"## {TITLES[kind]}", "",
                f"`{metric}` at the epoch selected on validation: mean ± 95 % interval over "
                f"seeds, then the verdict against `{REFERENCE[kind]}` (▲ better, ▼ worse, "
                f"= no detectable difference: paired t-test over seeds, Holm-corrected within "
                f"the setting, α = {stats.ALPHA}) and, after ·, the learning rate chosen on "
                "validation.", ""]
        for task in dict.fromkeys(c.task for c in found if c.kind == kind):
            out += [f"### {task}", "", *task_table(found, task), ""]
        ranked = tables.ranks(found, kind)
        out += ["### Ranks", "", *ranks_text(ranked, kind, figures.get(kind, "")), "",
                "### What to use", "", advice(found, ranked, kind), ""]
    out += published.section(results, found)
    return "\n".join(out).rstrip() + "\n"


def protocol_text(p: protocol.Protocol, meta: dict[str, Any]) -> list[str]:
    lines = ["## Protocol", "",
             f"- Protocol `{p.name}`: seeds {', '.join(map(str, p.seeds))} (a seed fixes the "
             "data split, the noise draw and the initial weights, so losses pair by seed); "
             f"Adam at each learning rate of {', '.join(f'{lr:g}' for lr in p.lrs)}, chosen "
             "per setting × loss by the mean validation main metric at the selected epochs "
             "(a rate qualifies only if all its seeds finished).",
             "- Validation: 10 % of the training data, carrying the same corruption as "
             "training (the test data stays clean); the epoch is selected on it.",
             "- Every loss that accepts the task's target kind; every run of a setting has "
             "the same model, epochs and batches. Population training "
             "(`hydra/launcher=population`)."]
    for s in p.sweeps:
        lines.append(f"- `{s.name}`: `{' '.join(s.budget)} {' '.join(s.settings)}`, "
                     f"{protocol.runs_in(p, s)} runs.")
    lines.append(f"- Environment: {meta['environment']}.")
    return lines


def figures(folder: Path) -> dict[str, str]:
    """The rank diagrams present beside the results, by kind."""
    return {kind: f"ranks_{kind}.png" for kind in TITLES
            if (folder / f"ranks_{kind}.png").is_file()}

