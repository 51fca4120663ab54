"""Start-up cost of the README's main command, against `python -c "import torch"`.

Each command runs in a fresh interpreter, interleaved, repeated; the table gives medians
of wall time and of the command's own CPU time (user + system: steadier than wall time
when other work shares the cores). `--compare DIR` also times the same command run from
another checkout (an older commit, say), in the same rounds. Then the main command runs
once more under `python -X importtime`, and its import time is broken down by package.

    python -m scripts.bench.startup --repeats 5 --quiet 0.3 --json startup.json
    python -m scripts.bench.startup --compare /tmp/old-checkout --repeats 5
    python -m scripts.bench.startup --command "train.py task=regression trainer.max_epochs=1"
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MAIN = "train.py loss=smoothl1 task=regression"
# Imports that a run makes lazily, at top level of the import tree, but that belong to one
# package in the breakdown; the first matching prefix names the row.
GROUPS = ("torch._dynamo", "torch.utils.tensorboard", "torch")
PROJECT = {"train", "__main__", "tasks", "trainer", "scripts", "lossbench"}


@dataclass
class Command:
    argv: list[str]
    root: Path  # the checkout it runs from: working dir and PYTHONPATH
    trains: bool  # a train.py command: gets a fresh hydra.run.dir every time


def commands(main: str, compare: Path | None) -> dict[str, Command]:
    train = [*shlex.split(main), "trainer.progress_bar=false"]
    found = {"import torch": Command([sys.executable, "-c", "import torch"], ROOT, False),
             "main command": Command([sys.executable, *train], ROOT, True)}
    if compare is not None:
        found[f"main command in {compare.name}"] = Command([sys.executable, *train], compare,
                                                           True)
    return found


def execute(command: Command, clock, runs: Path, flags: tuple[str, ...] = ()) -> tuple[str, float]:
    """Run it; return its stderr and the CPU seconds it used (its children's included)."""
    argv = [command.argv[0], *flags, *command.argv[1:]]
    if command.trains:
        argv.append(f"hydra.run.dir={tempfile.mkdtemp(dir=runs)}")
    env = {**os.environ, "PYTHONPATH": str(command.root)}
    before = os.times()
    with clock:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=command.root)
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.children_user - before.children_user
           + after.children_system - before.children_system)
    return done.stderr, cpu


def group_of(module: str) -> str:
    for prefix in GROUPS:
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    top = module.split(".")[0]
    return "lossbench" if top in PROJECT else top


def import_breakdown(stderr: str) -> dict[str, float]:
    """Seconds per package from -X importtime: each module's own time goes to the
    outermost package outside the project that pulled it in (torch's numpy is torch's),
    the project's own modules to `lossbench`."""
    modules = []  # (self µs, depth, name), children before their parent as Python prints
    for line in stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \| ( *)(\S+)$", line)
        if found:
            modules.append((int(found.group(1)), len(found.group(2)) // 2, found.group(3)))
    seconds: Counter[str] = Counter()
    ancestors: list[str] = []  # walking backwards, parents come first
    for own, depth, name in reversed(modules):
        del ancestors[depth:]
        ancestors.append(name)
        outside = next((a for a in ancestors if group_of(a) != "lossbench"), name)
        seconds[group_of(outside)] += own / 1e6
    return dict(seconds.most_common())


def measure(args: argparse.Namespace) -> dict:
    import torch

    from scripts.bench.timing import machine, timed

    cpu_device = torch.device("cpu")
    todo = commands(args.command, args.compare)
    walls: dict[str, list[float]] = {name: [] for name in todo}
    cpus: dict[str, list[float]] = {name: [] for name in todo}
    others: dict[str, list[float]] = {name: [] for name in todo}
    report = {"machine": machine(cpu_device), "command": f"python {args.command}",
              "compare": str(args.compare) if args.compare else None}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        for command in todo.values():  # warm-up: page cache, .pyc files
            execute(command, _NullClock(), runs)
        for _ in range(args.repeats):  # interleaved, so a burst of load hits every command
            for name, command in todo.items():
                clock, (_, cpu) = timed(lambda c, command=command: execute(command, c, runs),
                                        cpu_device, args.quiet)
                walls[name].append(clock.wall)
                cpus[name].append(cpu)
                others[name].append(clock.others)
        profiled = {}
        for name, command in todo.items():
            if command.trains:
                clock, (stderr, _) = timed(
                    lambda c, command=command: execute(command, c, runs, ("-X", "importtime")),
                    cpu_device, args.quiet)
                breakdown = import_breakdown(stderr)
                profiled[name] = {"wall_s": clock.wall, "imports_s": sum(breakdown.values()),
                                  "by_package_s": breakdown}
    median = {name: statistics.median(w) for name, w in walls.items()}
    median_cpu = {name: statistics.median(c) for name, c in cpus.items()}
    report.update(median_s=median, median_cpu_s=median_cpu, runs_s=walls, cpu_s=cpus,
                  others_cores=others, importtime=profiled,
                  ratio={name: median[name] / median["import torch"] for name in todo},
                  cpu_ratio={name: median_cpu[name] / median_cpu["import torch"]
                             for name in todo})
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


def print_report(report: dict) -> None:
    m = report["machine"]
    print(f"\n{m['cpu']} · {m['cores']} cores · torch {m['torch']} · "
          f"load {m['loadavg_start']} → {m['loadavg_end']}")
    print(f"main command: {report['command']}\n")
    width = max(map(len, report["runs_s"]))
    print(f"| {'command':<{width}} | median s | CPU s | vs import torch (wall, CPU) "
          "| others | runs s")
    print(f"|{'-' * (width + 2)}|----------|-------|-----------------------------|--------|-----")
    for name, runs in report["runs_s"].items():
        shown = ", ".join(f"{w:.2f}" for w in runs)
        print(f"| {name:<{width}} | {report['median_s'][name]:>8.2f} "
              f"| {report['median_cpu_s'][name]:>5.2f} "
              f"| {report['ratio'][name]:>12.2f}× {report['cpu_ratio'][name]:>12.2f}× "
              f"| {statistics.median(report['others_cores'][name]):>6.2f} | {shown}")
    for name, profile in report["importtime"].items():
        print(f"\n{name} under -X importtime: {profile['wall_s']:.2f} s wall, "
              f"{profile['imports_s']:.2f} s in imports")
        for package, seconds in profile["by_package_s"].items():
            if seconds >= 0.02:
                print(f"  {package:<26} {seconds:6.2f} s")


class _NullClock:
    def __enter__(self) -> _NullClock:
        return self

    def __exit__(self, *exc) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--command", default=MAIN, help=f"the main command (default: {MAIN})")
    parser.add_argument("--compare", type=Path, default=None, metavar="DIR",
                        help="also time the main command run from this other checkout")
    # --repeats/--quiet/--json as in bench_sweep.py: each script keeps its own --help text,
    # and a shared helper would live in timing.py, which imports torch before the timing.
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quiet", type=float, default=None, metavar="CORES",
                        help="time only while other processes use at most CORES cores")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report = measure(args)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
