"""Runs per minute of a whole sweep command, one run after another (Hydra's basic launcher)
against several at once (`hydra/launcher=joblib`), interleaved, median wall time.

    python -m scripts.bench.bench_sweep                            # the 12-run regression sweep
    python -m scripts.bench.bench_sweep --extra task.n_train=20000 --repeats 3 --json sweep.json

The joblib launcher runs each job in a loky worker that starts with OMP_NUM_THREADS
= max(cores // n_jobs, 1), which torch reads for its thread count: every job is capped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from lossbench.status import RunStatus

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ["task=regression", "loss=l1,mse,smoothl1,huber", "seed=0,1,2", "trainer.device=cpu"]
LAUNCHERS = {"basic": [], "joblib": ["hydra/launcher=joblib"]}


def sweep(launcher: str, swept: list[str], sweep_dir: Path, clock) -> int:
    """Run the whole command under `clock`; return how many runs finished with status ok."""
    command = [sys.executable, str(ROOT / "train.py"), "-m", *swept,
               *LAUNCHERS[launcher], f"hydra.sweep.dir={sweep_dir}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with clock:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    records = [json.loads(p.read_text()) for p in sweep_dir.glob("*/metrics.json")]
    return sum(r["status"] == RunStatus.OK for r in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", nargs="*", default=SWEEP, help=f"default: {' '.join(SWEEP)}")
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every run")
    parser.add_argument("--n-jobs", type=int, default=None, help="hydra.launcher.n_jobs")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quiet", type=float, default=None, metavar="CORES",
                        help="as in bench.py: time only while others use at most CORES cores")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.n_jobs:
        LAUNCHERS["joblib"].append(f"hydra.launcher.n_jobs={args.n_jobs}")

    import torch

    from scripts.bench.timing import machine, timed

    report: dict = {"machine": machine(torch.device("cpu")),
                    "command": " ".join(["python train.py -m", *args.sweep, *args.extra]),
                    "launchers": LAUNCHERS, "walls_s": {name: [] for name in LAUNCHERS},
                    "runs_ok": {name: [] for name in LAUNCHERS},
                    "others_cores": {name: [] for name in LAUNCHERS}}
    with tempfile.TemporaryDirectory(prefix="lossbench-sweep-") as tmp:
        for i in range(args.repeats):  # interleaved, so load from elsewhere hits both alike
            for name in LAUNCHERS:
                out = Path(tmp) / f"{name}{i}"
                clock, ok = timed(lambda c, name=name, out=out: sweep(
                    name, [*args.sweep, *args.extra], out, c), torch.device("cpu"), args.quiet)
                report["walls_s"][name].append(round(clock.wall, 2))
                report["others_cores"][name].append(round(clock.others, 2))
                report["runs_ok"][name].append(ok)
    median = {name: statistics.median(w) for name, w in report["walls_s"].items()}
    runs = min(min(ok) for ok in report["runs_ok"].values())  # all, unless a run failed
    report.update(runs=runs, median_s=median,
                  runs_per_min={name: 60 * runs / s for name, s in median.items()},
                  speedup=median["basic"] / median["joblib"])
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]

    m = report["machine"]
    print(f"\n{m['cpu']} · {m['cores']} cores · torch {m['torch']} · "
          f"load {m['loadavg_start']} → {m['loadavg_end']}")
    print(f"{report['command']}  ({runs} runs ok, median of {args.repeats})\n")
    print(f"| {'launcher':<8} | {'median s':>8} | {'runs/min':>8} | {'runs s':<20} |")
    print(f"|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 22}|")
    for name in LAUNCHERS:
        walls = ", ".join(f"{w:.1f}" for w in report["walls_s"][name])
        print(f"| {name:<8} | {median[name]:>8.1f} | {report['runs_per_min'][name]:>8.1f} "
              f"| {walls:<20} |")
    print(f"\njoblib/basic runs per minute: {report['speedup']:.2f}×")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
