"""Run the grid: one `python train.py -m … hydra/launcher=population` per sweep, a progress
line with an estimate of the time left, then one compact results file for all runs.

The runs are ordinary lossbench run dirs (metrics.json, TensorBoard events) under the runs
dir, one sweep folder each, so `scripts/report.py <runs dir>/<sweep>` works on any of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd

from lossbench.errors import UserError
from lossbench.status import RunStatus
from scripts.leaderboard import protocol
from scripts.leaderboard.protocol import Protocol, Sweep
from scripts.reporting import environment, runs

ROOT = Path(__file__).resolve().parents[2]
ENDED = {str(s) for s in RunStatus if s != RunStatus.RUNNING}


def _trained(sweep_dir: Path) -> float:
    """Runs' worth of training done in the sweep: each run counts its share of epochs."""
    done = 0.0
    for path in sweep_dir.glob("*/metrics.json"):
        with contextlib.suppress(OSError, ValueError, TypeError, ZeroDivisionError):
            record = json.loads(path.read_text())
            if record.get("status") in ENDED:
                done += 1
            else:
                epochs = record["hparams"]["trainer.max_epochs"]
                done += min(record.get("epochs_completed") or 0, epochs) / epochs
    return done


def command(p: Protocol, sweep: Sweep, sweep_dir: Path) -> list[str]:
    losses = ",".join(protocol.losses_for(sweep.kind))
    return [sys.executable, str(ROOT / "train.py"), "-m", f"task={sweep.task}",
            *sweep.budget, *sweep.settings, f"loss={losses}",
            "optim.lr=" + ",".join(f"{lr:g}" for lr in p.lrs),
            "seed=" + ",".join(map(str, p.seeds)), "trainer.progress_bar=false",
            "hydra/launcher=population", f"hydra.sweep.dir={sweep_dir}"]


class Progress:
    """Prints `[runs done/all] sweep … elapsed, about … left` every `every` seconds; the
    estimate weighs each sweep's runs by its cost per run (protocol.Sweep.weight)."""

    def __init__(self, p: Protocol, every: float = 20.0) -> None:
        self.total = sum(protocol.runs_in(p, s) for s in p.sweeps)
        self.units = sum(protocol.runs_in(p, s) * s.weight for s in p.sweeps)
        self.done_runs, self.done_units = 0, 0.0
        self.start, self.every = time.monotonic(), every

    def line(self, sweep: Sweep, trained: float) -> str:
        elapsed = time.monotonic() - self.start
        units = self.done_units + trained * sweep.weight
        # Too early an estimate mostly measures start-up; wait for 3 % of the work.
        left = f", about {_minutes(elapsed * (self.units - units) / units)} left" \
            if units > 0.03 * self.units else ""
        return (f"leaderboard: [{self.done_runs + int(trained)}/{self.total} runs] "
                f"{sweep.name}: {_minutes(elapsed)} elapsed{left}")

    def watch(self, sweep: Sweep, sweep_dir: Path, done: threading.Event) -> None:
        while not done.wait(self.every):
            print(self.line(sweep, _trained(sweep_dir)), flush=True)

    def finished(self, p: Protocol, sweep: Sweep) -> None:
        self.done_runs += protocol.runs_in(p, sweep)
        self.done_units += protocol.runs_in(p, sweep) * sweep.weight


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def launch(cmd: list[str], sweep_dir: Path, log: Path) -> None:
    """One sweep; its output goes to a log file, and a failing launch stops the leaderboard
    with the log's last line (the sweep's own one-line error)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    if done.returncode != 0:
        lines = log.read_text().strip().splitlines() or ["(no output)"]
        raise UserError(f"leaderboard: the sweep in {sweep_dir} failed: {lines[-1]} "
                        f"(whole output: {log})")


def run(p: Protocol, runs_dir: Path) -> float:
    """Every sweep of the protocol (and the published-table models); the wall time in s,
    summed over sweeps. A sweep that finished in an earlier call on the same runs dir (its
    `<sweep>.wall` file holds its time) is kept; one cut short resumes its runs."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    progress, wall = Progress(p), 0.0
    jobs = [(s.name, command(p, s, runs_dir / s.name), s) for s in p.sweeps]
    if p.published:
        for name, model in protocol.PUBLISHED_MODELS.items():
            folder = protocol.published_folder(name)
            jobs.append((folder, [sys.executable, str(ROOT / "train.py"), "-m",
                                  *protocol.PUBLISHED_BUDGET, *model,
                                  "trainer.progress_bar=false", "hydra/launcher=population",
                                  f"hydra.sweep.dir={runs_dir / folder}"], None))
    for name, cmd, sweep in jobs:
        marker, sweep_dir = runs_dir / f"{name}.wall", runs_dir / name
        if marker.is_file():
            wall += float(marker.read_text())
            print(f"leaderboard: {name}: kept, finished earlier", flush=True)
        else:
            if sweep_dir.is_dir():
                cmd = [*cmd, "trainer.resume=true"]
            start = time.monotonic()
            _watched(progress, sweep, sweep_dir, cmd, runs_dir / f"{name}.log")
            marker.write_text(f"{time.monotonic() - start:.1f}\n")
            wall += time.monotonic() - start
        if sweep is not None:
            progress.finished(p, sweep)
            print(progress.line(sweep, 0), flush=True)
        else:
            print(f"leaderboard: {name} done ({_minutes(time.monotonic() - progress.start)} "
                  "elapsed)", flush=True)
    return wall


def _watched(progress: Progress, sweep: Sweep | None, sweep_dir: Path, cmd: list[str],
             log: Path) -> None:
    done = threading.Event()
    watcher = threading.Thread(target=progress.watch, args=(sweep, sweep_dir, done),
                               daemon=True)
    if sweep is not None:
        watcher.start()
    try:
        launch(cmd, sweep_dir, log)
    finally:
        done.set()
        if sweep is not None:
            watcher.join()


# The compact results file: what the document is generated from, and what
# `scripts/report.py … --baseline` pairs against (the `config` column).
SETTING_KEYS = ("task.label_noise", "task.noise_type", "task.outlier_fraction")


def collect(runs_dir: Path) -> pd.DataFrame:
    """One row per run: sweep, setting, loss, lr, seed, status, config, metrics, and the
    validation main metric at the selected epoch (what the learning rate is chosen by)."""
    rows = []
    for path in sorted(runs_dir.glob("*/*/metrics.json")):
        record = runs.read(path)
        if record is None:
            continue
        row, _ = runs.row(runs_dir, path.parent, record)
        hparams = record.get("hparams") or {}
        row["sweep"] = path.parent.parent.name
        row["model"] = f"{hparams.get('model.name')} {hparams.get('model.hidden_sizes', '')}"
        for key in SETTING_KEYS:
            row[key] = hparams.get(key)
        selected = (record.get("selected") or {}).get("epoch")
        history = {h["epoch"]: h for h in record.get("history") or []}
        for tag, value in history.get(selected, {}).items():
            if tag.startswith("val/"):
                row[f"selected/{tag}"] = value
        rows.append(row)
    keep = ["sweep", "run", "task", "model", *SETTING_KEYS, "loss", "lr", "seed", "status",
            "epochs_completed", "wall_s", "config"]
    table = pd.DataFrame(rows)
    metrics = sorted(c for c in table.columns if c.split("/")[0] in runs.KINDS and "/" in c
                     and c.split("/")[1] in ("test", "val", "epoch"))
    env = [c for c in environment.COLUMNS if c in table.columns]
    return table[[c for c in keep + metrics + env if c in table.columns]]
