"""The leaderboard: run the canonical comparison and write its document.

    python -m scripts.leaderboard            # the full grid (about half an hour on 2 CPU
                                             # cores): docs/leaderboard.md and docs/leaderboard/
    python -m scripts.leaderboard --quick    # small tasks, 2 seeds, few epochs (a few minutes)
    python -m scripts.leaderboard --render   # rewrite the document from the stored results

`--out DIR` writes DIR/leaderboard.md and DIR/leaderboard/ (results.csv.gz, meta.json,
leaderboard.csv, ranks_<kind>.png); the runs go under `--runs` (default
logs/leaderboard/<protocol>-<time>/), one sweep folder each. The results file is what
`scripts/report.py <your sweep> --baseline DIR/leaderboard/results.csv.gz` pairs against.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from lossbench.errors import UserError
from scripts.leaderboard import document, harness, protocol, tables
from scripts.reporting.ranks import draw

ROOT = Path(__file__).resolve().parents[2]
RESULTS = "results.csv.gz"


def machine() -> str:
    import torch

    from trainer.provenance import cpu_model

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu_model()}, {os.cpu_count()} cores, {gpu}"


def environment() -> str:
    import torch
    import torchvision

    return (f"Python {platform.python_version()}, torch {torch.__version__}, torchvision "
            f"{torchvision.__version__}, {torch.get_num_threads()} torch threads")


def draw_ranks(found: list[tables.Cell], folder: Path) -> None:
    for kind in document.TITLES:
        (folder / f"ranks_{kind}.png").unlink(missing_ok=True)
        ranked = tables.ranks(found, kind)
        if ranked is not None:
            draw(ranked, folder / f"ranks_{kind}.png")


def publish(out: Path, results: pd.DataFrame, meta: dict) -> Path:
    folder = out / "leaderboard"
    folder.mkdir(parents=True, exist_ok=True)
    found = tables.cells(results)
    tables.frame(found).to_csv(folder / "leaderboard.csv", index=False, float_format="%.6g")
    draw_ranks(found, folder)
    (out / "leaderboard.md").write_text(document.render(results, meta,
                                                         document.figures(folder)))
    return out / "leaderboard.md"


def stored(out: Path) -> tuple[pd.DataFrame, dict]:
    folder = out / "leaderboard"
    if not (folder / RESULTS).is_file():
        raise UserError(f"--render: no {folder / RESULTS}; run the leaderboard first.")
    return pd.read_csv(folder / RESULTS), json.loads((folder / "meta.json").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.leaderboard",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the tests' small variant")
    parser.add_argument("--render", action="store_true",
                        help="rewrite the document from the stored results, running nothing")
    parser.add_argument("--out", type=Path, help="default: docs (full), "
                        "logs/leaderboard-quick (--quick)")
    parser.add_argument("--runs", type=Path, help="where the runs go")
    args = parser.parse_args(argv)
    p = protocol.QUICK if args.quick else protocol.FULL
    out = args.out or (ROOT / ("logs/leaderboard-quick" if args.quick else "docs"))
    try:
        if args.render:
            results, meta = stored(out)
            print(f"wrote {publish(out, results, meta)}")
            return 0
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        runs = args.runs or ROOT / "logs" / "leaderboard" / f"{p.name}-{stamp}"
        started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        total = sum(protocol.runs_in(p, s) for s in p.sweeps)
        print(f"leaderboard ({p.name}): {total} runs in {len(p.sweeps)} sweeps under {runs}",
              flush=True)
        wall = harness.run(p, runs)
        results = harness.collect(runs)
        folder = out / "leaderboard"
        folder.mkdir(parents=True, exist_ok=True)
        results.to_csv(folder / RESULTS, index=False,
                       compression={"method": "gzip", "mtime": 0})
        meta = {"protocol": p.name, "command": "python -m scripts.leaderboard"
                + (" --quick" if args.quick else ""), "results": str(_shown(folder / RESULTS)),
                "wall_s": round(wall, 1), "started": started, "machine": machine(),
                "environment": environment(), "runs": len(results)}
        (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        path = publish(out, pd.read_csv(folder / RESULTS), meta)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"leaderboard: {len(results)} runs in {wall / 60:.1f} min; wrote {path}")
    return 0


def _shown(path: Path) -> Path:
    try:
        return path.resolve().relative_to(ROOT)
    except ValueError:
        return path


if __name__ == "__main__":
    sys.exit(main())
