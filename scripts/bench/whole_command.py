"""Whole commands, start-up included: `python train.py task=fashion_mnist model=mlp loss=ce
trainer.max_epochs=2` against classic_mnist.py doing the same epochs (same model,
batch size, Adam lr 1e-3 as train.py's default, a test pass per epoch), each in a fresh
interpreter, interleaved, median wall time.
Run through `python -m scripts.bench.bench --whole-command`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def commands(args: argparse.Namespace, run_dir: Path) -> dict[str, list[str]]:
    train = [sys.executable, str(ROOT / "train.py"), f"task={args.dataset}",
             f"model={args.model}", "loss=ce", f"trainer.max_epochs={args.epochs}",
             f"task.data_dir={args.data_dir}", "task.download=false",
             f"task.batch_size={args.batch_size}", f"trainer.device={args.device}",
             # like the classic script: all 60,000 images trained on, no validation pass
             "task.val_fraction=0", f"hydra.run.dir={run_dir}"]
    classic = [sys.executable, str(Path(__file__).with_name("classic_mnist.py")),
               f"--data-dir={args.data_dir}", f"--dataset={args.dataset}",
               f"--model={args.model}", "--optim=adam", "--lr=0.001", f"--epochs={args.epochs}",
               f"--batch-size={args.batch_size}", f"--device={args.device}",
               f"--num-workers={args.num_workers}"]
    if args.steps:
        train.append(f"trainer.limit_train_batches={args.steps}")
        classic.append(f"--steps={args.steps}")
    return {"train.py": train, "classic_mnist.py": classic}


def execute(command: list[str], clock) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with clock:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def accuracy(name: str, stdout: str, run_dir: Path) -> float | None:
    """The last test accuracy each command reports: both should have trained alike."""
    if name == "train.py":
        return json.loads((run_dir / "metrics.json").read_text())["final"]["test/accuracy"]
    found = re.findall(r"Accuracy: \d+/\d+ \(([\d.]+)\)", stdout)
    return float(found[-1]) if found else None


def main(args: argparse.Namespace) -> None:
    import torch

    from scripts.bench.timing import machine, timed  # the timed commands run in their own processes

    args.epochs = args.epochs or 2
    report: dict = {"machine": machine(torch.device(args.device)),
                    "config": vars(args) | {"json": str(args.json)}}
    walls: dict[str, list[float]] = {"train.py": [], "classic_mnist.py": []}
    others: dict[str, list[float]] = {"train.py": [], "classic_mnist.py": []}
    warmup: dict[str, float] = {}
    acc: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up rounds fill the page cache and the decoded-tensor cache; reported apart.
        for i in range(args.warmup_rounds + args.repeats):
            for name, command in commands(args, Path(tmp) / f"run{i}").items():
                clock, stdout = timed(lambda c, command=command: execute(command, c),
                                      torch.device("cpu"), args.quiet)
                if i < args.warmup_rounds:
                    warmup[name] = clock.wall
                else:
                    walls[name].append(clock.wall)
                    others[name].append(clock.others)
                acc[name] = accuracy(name, stdout, Path(tmp) / f"run{i}")
        report["commands"] = {name: " ".join(c[1:]).replace(str(ROOT) + "/", "")
                              for name, c in commands(args, Path("<tmp>")).items()}
    median = {name: statistics.median(w) for name, w in walls.items()}
    report["results"] = {"median_s": median, "runs_s": walls, "warmup_s": warmup,
                         "others_cores": others,
                         "accuracy": acc,
                         "speedup": median["classic_mnist.py"] / median["train.py"]}
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]

    m = report["machine"]
    print(f"\n{m['cpu']} · {m['cores']} cores · torch {m['torch']} · {m['device']} · "
          f"load {m['loadavg_start']} → {m['loadavg_end']}")
    print(f"{args.epochs} epochs, median of {args.repeats} after {args.warmup_rounds} "
          "warm-up round(s)\n")
    print(f"| {'command':<16} | {'median s':>8} | {'runs s':<22} | {'warm-up s':>9} | accuracy |")
    print(f"|{'-' * 18}|{'-' * 10}|{'-' * 24}|{'-' * 11}|{'-' * 10}|")
    for name in walls:
        runs = ", ".join(f"{w:.2f}" for w in walls[name])
        shown = "n/a" if acc[name] is None else f"{acc[name]:.4f}"
        first = f"{warmup[name]:.2f}" if name in warmup else "-"
        print(f"| {name:<16} | {median[name]:>8.2f} | {runs:<22} | {first:>9} | {shown:>8} |")
    print(f"\nclassic/train.py wall time: {report['results']['speedup']:.2f}×")
    for name, command in report["commands"].items():
        print(f"  {name}: python {command}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
