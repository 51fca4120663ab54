"""Start-up cost of the README's main command, against `python -c "import torch"`.

Each command runs in a fresh interpreter, interleaved, repeated; the table gives medians.
Then the main command runs once more under `python -X importtime`, and its import time is
broken down by package (what start-up is made of).

    python scripts/startup.py --repeats 5 --quiet 0.3 --json startup.json
    python scripts/startup.py --command "train.py task=regression trainer.max_epochs=1"
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAIN = "train.py loss=smoothl1 task=regression"
# Imports that a run makes lazily, at top level of the import tree, but that belong to one
# package in the breakdown; the longest matching prefix names the row.
GROUPS = ("torch._dynamo", "torch.utils.tensorboard", "torch")
PROJECT = {"train", "__main__", "tasks", "trainer", "scripts", "lossbench"}


def commands(main: str) -> dict[str, list[str]]:
    train = [sys.executable, *shlex.split(main), "trainer.progress_bar=false"]
    return {"import torch": [sys.executable, "-c", "import torch"], "main command": train}


def execute(command: list[str], clock, runs: Path) -> str:
    """Run the command; a train.py command gets a fresh run dir under `runs` every time."""
    if command[1:2] != ["-c"]:
        command = [*command, f"hydra.run.dir={tempfile.mkdtemp(dir=runs)}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with clock:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stderr


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--command", default=MAIN, help=f"the main command (default: {MAIN})")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quiet", type=float, default=None, metavar="CORES",
                        help="time only while other processes use at most CORES cores")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from scripts.timing import machine, timed

    walls: dict[str, list[float]] = {"import torch": [], "main command": []}
    others: dict[str, list[float]] = {"import torch": [], "main command": []}
    cpu = torch.device("cpu")
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        execute(commands(args.command)["main command"], _NullClock(), runs)  # warm page cache
        for _ in range(args.repeats):
            for name, command in commands(args.command).items():
                clock, _ = timed(lambda c, command=command: execute(command, c, runs), cpu,
                                 args.quiet)
                walls[name].append(clock.wall)
                others[name].append(clock.others)
        main_command = commands(args.command)["main command"]
        profiled = [main_command[0], "-X", "importtime", *main_command[1:]]
        clock, stderr = timed(lambda c: execute(profiled, c, runs), cpu, args.quiet)
    median = {name: statistics.median(w) for name, w in walls.items()}
    breakdown = import_breakdown(stderr)
    report = {"machine": machine(torch.device("cpu")), "command": f"python {args.command}",
              "median_s": median, "runs_s": walls, "others_cores": others,
              "ratio": median["main command"] / median["import torch"],
              "importtime": {"wall_s": clock.wall, "imports_s": sum(breakdown.values()),
                             "by_package_s": breakdown}}
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def print_report(report: dict) -> None:
    m = report["machine"]
    print(f"\n{m['cpu']} · {m['cores']} cores · torch {m['torch']} · "
          f"load {m['loadavg_start']} → {m['loadavg_end']}")
    print(f"main command: {report['command']}\n")
    print(f"| {'command':<12} | {'median s':>8} | {'others':>6} | runs s")
    print(f"|{'-' * 14}|{'-' * 10}|{'-' * 8}|{'-' * 30}")
    for name, runs in report["runs_s"].items():
        shown = ", ".join(f"{w:.2f}" for w in runs)
        print(f"| {name:<12} | {report['median_s'][name]:>8.2f} "
              f"| {statistics.median(report['others_cores'][name]):>6.2f} | {shown}")
    print(f"\nmain command / import torch: {report['ratio']:.2f}×")
    it = report["importtime"]
    print(f"\nunder -X importtime: {it['wall_s']:.2f} s wall, {it['imports_s']:.2f} s in imports")
    for package, seconds in it["by_package_s"].items():
        if seconds >= 0.02:
            print(f"  {package:<26} {seconds:6.2f} s")


class _NullClock:
    def __enter__(self) -> _NullClock:
        return self

    def __exit__(self, *exc) -> None:
        return None


if __name__ == "__main__":
    main()
