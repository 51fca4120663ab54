"""Tables and plots from a sweep dir, or any folder of lossbench runs.

    python scripts/report.py logs/multiruns/2025-01-01_12-00-00
    python scripts/report.py logs/multiruns/<time> --target test/accuracy=0.95
    python -m scripts.reporting logs/multiruns/<time>                # the same
    python scripts/report.py logs/multiruns/<time> --reference gce --measure final
    python scripts/report.py my_sweep --baseline logs/multiruns/<time>/report/results.csv

Writes <dir>/report/: results.csv (one row per run), summary.md (per task × loss ×
swept value, seeds averaged with 95 % intervals; paired comparisons against a
reference loss; average ranks), comparisons.csv, ranks.png and the curve plots;
prints the summary.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from lossbench.errors import UserError
from lossbench.metrics import HIGHER_IS_BETTER
from scripts.reporting import baseline, comparisons, plots, ranks, runs, summary

# What --target may name: the per-epoch tags a run logs (scripts/reporting/runs.py's curves).
TARGET_TAGS = sorted({f"{split}/{name}" for split in ("test", "val")
                      for name in (*HIGHER_IS_BETTER, "loss")} | {"train/loss_epoch"})


def parse_target(text: str) -> tuple[str, float]:
    """`test/accuracy=0.95` -> ("test/accuracy", 0.95); ValueError with the one line to print
    for a tag no run logs or a value that is not a finite number."""
    metric, _, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"--target {text} is not METRIC=NUMBER, e.g. test/accuracy=0.9"
                         ) from None
    if metric not in TARGET_TAGS:
        raise ValueError(f"--target {text}: {metric or '(none)'} is not a metric runs log; one "
                         f"of {', '.join(TARGET_TAGS)}")
    if not math.isfinite(number):
        raise ValueError(f"--target {text}: the target must be a finite number")
    return metric, number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="a sweep dir or any folder holding run dirs")
    defaults = ", ".join(f"{k}={v:g}" for k, v in summary.TARGETS.items())
    parser.add_argument("--target", action="append", default=[],
                        metavar="METRIC=VALUE",
                        help=f"epochs-to-target threshold; repeatable (defaults: {defaults})")
    parser.add_argument("--reference", metavar="LOSS",
                        help="the loss every other is compared with (default: "
                        + ", ".join(f"{v} for {k}" for k, v in comparisons.REFERENCE.items())
                        + " tasks)")
    parser.add_argument("--measure", choices=comparisons.MEASURES, default="selected",
                        help="what the paired tests and ranks compare: the epoch selected on "
                        "validation (default; final where runs have no validation split) "
                        "or the final epoch")
    parser.add_argument("--baseline", type=Path, metavar="DIR_OR_CSV",
                        help="pair these runs with stored runs of other losses: a sweep dir "
                        "or its report/results.csv; refused, naming the key, when a run "
                        "differs from its partner in more than the loss")
    args = parser.parse_args(argv)
    try:
        targets = dict(parse_target(t) for t in args.target)
    except ValueError as err:  # a usage error: one line and exit 2, as argparse's own
        print(f"error: {err}.", file=sys.stderr)
        return 2
    if not args.dir.is_dir():
        sys.exit(f"error: {args.dir} is not a directory.")
    found = runs.load(args.dir)
    if found.table.empty:
        if records := runs.find(args.dir):
            sys.exit(f"error: no runs under {args.dir}: its {len(records)} metrics.json "
                     "file(s) are all corrupt or not lossbench records (warnings above).")
        sys.exit(f"error: no runs under {args.dir} (no metrics.json found); "
                 "give a sweep dir such as logs/multiruns/<time>.")

    if args.baseline is not None:
        try:
            found = baseline.pair(found, args.baseline)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    out = args.dir / "report"
    out.mkdir(exist_ok=True)
    found.table.to_csv(out / "results.csv", index=False)
    summaries = summary.summarise(found, {**summary.TARGETS, **targets})
    dims = summary.dimensions(found.table, found.swept)
    paired = comparisons.compare(found, summaries, dims, args.reference, args.measure)
    if not paired.table.empty:
        paired.table.to_csv(out / "comparisons.csv", index=False)
    ranked = ranks.rank(found, summaries, dims, args.measure)
    sections = [*comparisons.render(paired, dims), "", "## Ranks across tasks and settings",
                "", *ranks.render(ranked, args.measure)]
    text = summary.render(found, summaries, str(args.dir), sections)
    (out / "summary.md").write_text(text)
    images = plots.draw(found, summaries, out)
    if ranked is not None and (diagram := ranks.draw(ranked, out / "ranks.png")):
        images.append(diagram)
    print(text)
    print(f"wrote {out / 'results.csv'}, {out / 'summary.md'} and {len(images)} plot(s):")
    for image in images:
        print(f"  {image}")
    return 0

