"""Where a run's numbers go: the configured sinks (TensorBoard, CSV) and metrics.json."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lossbench.errors import require
from lossbench.metrics import higher_is_better
from lossbench.status import FINISHED, RunStatus
from trainer import provenance
from trainer.rundir import results
from trainer.sinks import SINKS, TensorBoard

# A record's note that its run's event files hold the HParams session (trainer/rundir/resume.py
# carries it over when a resume extends the finished run).
HPARAMS_WRITTEN = "hparams_written"

log = logging.getLogger("lossbench")


class RunLogger:
    """Writes the contract's scalar tags to every sink and keeps metrics.json current.

    `loggers` is `cfg.logger`: a sink's name → its options (`{"tensorboard": {}}` when
    not given). A resumed run passes `purge_step`, the first step after its checkpoint:
    every sink drops what the interrupted session logged from there on.
    """

    def __init__(self, run_dir: Path, record: dict[str, Any],
                 loggers: Mapping[str, Any] | None = None, purge_step: int | None = None,
                 started: float | None = None) -> None:
        self.run_dir = run_dir
        self.record = record
        self.staged: dict[str, Any] = {}  # the newest epoch, until commit()
        # Wall time: what the record already holds (earlier sessions of a resumed
        # run) plus this session's, counted from `started` (a perf_counter reading).
        self.earlier_s = record["wall_s"]
        self.started = time.perf_counter() if started is None else started
        loggers = {"tensorboard": {}} if loggers is None else loggers
        for name in loggers:
            require(name in SINKS, "logger", name, f"any of {', '.join(SINKS)}")
        self.sinks = [SINKS[name](run_dir, purge_step, **dict(options or {}))
                      for name, options in loggers.items()]
        if record.get("env"):  # once per session, at the step the session starts from
            self.text("env", provenance.markdown(record["env"]), purge_step or 0)
        results.write(run_dir, record)

    def step(self, tag: str, value: float, global_step: int) -> None:
        for sink in self.sinks:
            sink.scalar(tag, value, global_step)

    def text(self, tag: str, text: str, global_step: int) -> None:
        for sink in self.sinks:
            sink.text(tag, text, global_step)

    def epoch(self, entry: dict[str, float], global_step: int) -> None:
        """One finished epoch: its scalars to the sinks, its entry to the record."""
        epoch = int(entry["epoch"])
        for tag, value in entry.items():
            if "/" in tag:
                self.step(tag, value, global_step)
        self.step("epoch", epoch, global_step)  # maps steps to epochs for readers
        for sink in self.sinks:
            sink.flush()
        history = [*self.record["history"], entry]
        # Staged, not yet the record: until its checkpoint is on disk, an interrupt
        # or a failure must record only the epochs a resume can start after.
        self.staged = dict(history=history, epochs_completed=epoch, final=_metrics(entry),
                           best=_best(history), selected=_selected(history),
                           wall_s=self.wall_s())

    def staged_record(self) -> dict[str, Any]:
        """The record as it will be once the staged epoch is committed: the checkpoint's copy."""
        return {**self.record, **self.staged}

    def commit(self) -> None:
        """metrics.json catches up with the epoch, once its checkpoint is on disk."""
        self.record.update(self.staged)
        self.staged = {}
        results.write(self.run_dir, self.record)
        entry = self.record["history"][-1]
        shown = "  ".join(f"{k} {v:.4g}" for k, v in entry.items() if "/" in k)
        log.info("epoch %d  %s  %.1fs", entry["epoch"], shown, entry["time_s"])

    def wall_s(self) -> float:
        return round(self.earlier_s + time.perf_counter() - self.started, 3)

    def close(self) -> None:
        """Close the sinks without finishing the record (benchmarks, tests)."""
        for sink in self.sinks:
            sink.close()

    def finish(self, status: RunStatus, reason: str | None) -> dict[str, Any]:
        self.record.update(status=str(status), reason=reason, wall_s=self.wall_s())
        # HParams once, when the run has ended for good: an interrupted or failed run is
        # resumed later, and each session's HParams would show it twice in TensorBoard.
        # A finished run extended by a resume (more epochs) has them already; TensorBoard
        # reads the metrics' values from the scalars, so they need no update.
        done = str(status) in FINISHED and not self.record.get(HPARAMS_WRITTEN)
        for sink in self.sinks:
            if done:
                sink.close(self.record["hparams"], list(self.record["final"]))
            else:
                sink.close()
        if done and any(isinstance(sink, TensorBoard) for sink in self.sinks):
            self.record[HPARAMS_WRITTEN] = True
        results.write(self.run_dir, self.record)
        return self.record


def _metrics(entry: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in entry.items() if "/" in k}


def _best(history: list[dict[str, float]]) -> dict[str, float]:
    """Each test metric at its own best epoch: the oracle figure, chosen by the test set."""
    best: dict[str, float] = {}
    for tag in history[-1]:
        if tag.startswith("test/"):
            pick = max if higher_is_better(tag) else min
            values = [h[tag] for h in history if h.get(tag) == h.get(tag)]  # drop NaN
            if values:
                best[tag] = pick(values)
    return best


def _selected(history: list[dict[str, float]]) -> dict[str, float] | None:
    """The epoch with the best validation main metric, and every test metric at that epoch.

    The main metric is the task's first (evaluate() puts it first): val/accuracy or val/mse.
    Rebuilt from the whole history, so a resumed run selects as an uninterrupted one would;
    a tie goes to the earliest epoch. None without a validation split.
    """
    tag = next((t for t in history[-1] if t.startswith("val/") and t != "val/loss"), None)
    scored = [h for h in history if tag and h.get(tag) == h.get(tag)]  # drop NaN
    if not scored:
        return None
    sign = 1 if higher_is_better(tag) else -1
    chosen = max(scored, key=lambda h: (sign * h[tag], -h["epoch"]))
    return {"epoch": chosen["epoch"], **{k: v for k, v in chosen.items() if k.startswith("test/")}}
