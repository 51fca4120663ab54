"""Whole sweep commands timed under two launchers, side by side, interleaved, median wall time.

    python -m scripts.bench.bench_sweep                            # 12-run sweep: basic vs joblib
    python -m scripts.bench.bench_sweep --extra task.n_train=20000 --repeats 3 --json sweep.json
    python -m scripts.bench.bench_sweep --population --quiet 0.3   # the issue's three commands,
                                                                   # basic vs population
    python -m scripts.bench.bench_sweep --population --commands robustness --device cuda

The joblib launcher runs each job in a loky worker that starts with OMP_NUM_THREADS
= max(cores // n_jobs, 1), which torch reads for its thread count: every job is capped.
The population launcher trains compatible runs together in this process
(configs/hydra/launcher/population.yaml).
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
LAUNCHERS = {"basic": [], "joblib": ["hydra/launcher=joblib"],
             "population": ["hydra/launcher=population"]}
# The commands population training is measured on (issue 10), by name.
COMMANDS = {
    "robustness": ["experiment=robustness"],
    "label_noise-digits": ["experiment=label_noise", "task=digits"],
    "label_noise-fashion-2ep": ["experiment=label_noise", "task=fashion_mnist",
                                "trainer.max_epochs=2", "seed=0"],
    "label_noise-fashion": ["experiment=label_noise", "task=fashion_mnist"],
    # The APL protocol (toy_cnn, SGD with Nesterov, cosine, clipping) at 2 short epochs on
    # Fashion-MNIST, one noise setting: on the CPU its CNN is over the size rule, so the
    # population launcher trains the 9 runs one by one and must be no slower than basic.
    "apl-fashion-2ep": ["experiment=apl_mnist", "task=fashion_mnist", "task.download=false",
                        "trainer.max_epochs=2", "trainer.limit_train_batches=50",
                        "apl_noise=sym40", "seed=0"],
    # 3 of the full preset's 60 runs (10 epochs each): the basic launcher's share of it on
    # a GPU, where timing all 60 one after another would take too long.
    "label_noise-fashion-3": ["experiment=label_noise", "task=fashion_mnist", "loss=ce",
                              "task.label_noise=0.4", "seed=0,1,2"],
}


THREADS: dict[str, str] = {}  # --threads: the torch threads of every command


def sweep(launcher: list[str], swept: list[str], sweep_dir: Path, clock) -> int:
    """Run the whole command under `clock`; return how many runs finished with status ok."""
    command = [sys.executable, str(ROOT / "train.py"), "-m", *swept, *launcher,
               f"hydra.sweep.dir={sweep_dir}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), **THREADS}
    with clock:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    records = [json.loads(p.read_text()) for p in sweep_dir.glob("*/metrics.json")]
    return sum(r["status"] == RunStatus.OK for r in records)


def measure(swept: list[str], launchers: list[str], repeats: int, quiet: float | None,
            tmp: Path) -> dict:
    """Each launcher `repeats` times, interleaved, so load from elsewhere hits both alike."""
    import torch

    from scripts.bench.timing import timed

    out = {"command": " ".join(["python train.py -m", *swept]),
           "walls_s": {n: [] for n in launchers}, "runs_ok": {n: [] for n in launchers},
           "others_cores": {n: [] for n in launchers}}
    for i in range(repeats):
        for name in launchers:
            where = tmp / f"{name}{i}-{len(list(tmp.iterdir()))}"
            clock, ok = timed(lambda c, name=name, where=where: sweep(
                LAUNCHERS[name], swept, where, c), torch.device("cpu"), quiet)
            out["walls_s"][name].append(round(clock.wall, 2))
            out["others_cores"][name].append(round(clock.others, 2))
            out["runs_ok"][name].append(ok)
    out["median_s"] = {n: statistics.median(w) for n, w in out["walls_s"].items()}
    out["runs"] = min(min(ok) for ok in out["runs_ok"].values())  # all, unless a run failed
    out["runs_per_min"] = {n: 60 * out["runs"] / s for n, s in out["median_s"].items()}
    first, last = launchers[0], launchers[-1]
    out["speedup"] = out["median_s"][first] / out["median_s"][last]  # 1 for one launcher
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", nargs="*", default=SWEEP, help=f"default: {' '.join(SWEEP)}")
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every run")
    parser.add_argument("--launchers", nargs="+", default=None, choices=list(LAUNCHERS),
                        help="the launchers compared, the baseline first (default: basic "
                             "joblib; basic population with --population); one only times it")
    parser.add_argument("--population", action="store_true",
                        help="time the named --commands, basic against population")
    parser.add_argument("--commands", nargs="*", choices=list(COMMANDS),
                        default=list(COMMANDS)[:3], help="with --population (default: the "
                        "first three; label_noise-fashion is the full preset, for GPUs)")
    parser.add_argument("--device", default=None, help="trainer.device for every run")
    parser.add_argument("--n-jobs", type=int, default=None, help="hydra.launcher.n_jobs")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS for every command (torch's default: one per core)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quiet", type=float, default=None, metavar="CORES",
                        help="as in bench.py: time only while others use at most CORES cores")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.n_jobs:
        LAUNCHERS["joblib"].append(f"hydra.launcher.n_jobs={args.n_jobs}")
    if args.threads:
        THREADS.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    launchers = args.launchers or (["basic", "population"] if args.population
                                   else ["basic", "joblib"])
    device = [f"trainer.device={args.device}"] if args.device else []
    if args.population:
        commands = {name: [*COMMANDS[name], *device, *args.extra] for name in args.commands}
    else:
        commands = {"sweep": [*args.sweep, *device, *args.extra]}

    import torch

    from scripts.bench.timing import machine

    where = torch.device(args.device if args.device and args.device != "auto" else "cpu")
    report: dict = {"machine": machine(where), "launchers": {n: LAUNCHERS[n] for n in launchers},
                    "threads": args.threads}
    with tempfile.TemporaryDirectory(prefix="lossbench-sweep-") as tmp:
        results = {name: measure(swept, launchers, args.repeats, args.quiet, Path(tmp))
                   for name, swept in commands.items()}
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.population:
        report["commands"] = results
    else:
        report.update(results["sweep"])
    print_report(report, results, launchers, args.repeats)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def print_report(report: dict, results: dict, launchers: list[str], repeats: int) -> None:
    m = report["machine"]
    where = m.get("gpu", m["cpu"])
    threads = f"{report['threads']} torch thread(s)" if report.get("threads") else \
        "torch's default threads"
    print(f"\n{where} · {m['cores']} cores · torch {m['torch']} · {threads} · "
          f"load {m['loadavg_start']} → {m['loadavg_end']}")
    first, last = launchers[0], launchers[-1]
    if len(results) == 1 and "sweep" in results:
        r = results["sweep"]
        print(f"{r['command']}  ({r['runs']} runs ok, median of {repeats})\n")
        print(f"| {'launcher':<10} | {'median s':>8} | {'runs/min':>8} | {'runs s':<20} |")
        print(f"|{'-' * 12}|{'-' * 10}|{'-' * 10}|{'-' * 22}|")
        for name in launchers:
            walls = ", ".join(f"{w:.1f}" for w in r["walls_s"][name])
            print(f"| {name:<10} | {r['median_s'][name]:>8.1f} | {r['runs_per_min'][name]:>8.1f} "
                  f"| {walls:<20} |")
        print(f"\n{last}/{first} runs per minute: {r['speedup']:.2f}×")
        return
    print(f"median of {repeats}, wall seconds of the whole command\n")
    print(f"| command | runs ok | {first} s | {last} s | {last}/{first} | others' cores |")
    print("|---|---:|---:|---:|---:|---|")
    for r in results.values():
        others = max(max(v) for v in r["others_cores"].values())
        print(f"| `{r['command'].removeprefix('python train.py -m ')}` | {r['runs']} | "
              f"{r['median_s'][first]:.1f} | {r['median_s'][last]:.1f} | "
              f"{r['speedup']:.2f}× | ≤ {others:.2f} |")


if __name__ == "__main__":
    main()
