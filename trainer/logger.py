"""Where a run's numbers go: TensorBoard scalars and hparams, and metrics.json."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from omegaconf import MISSING

from lossbench.metrics import higher_is_better
from lossbench.schema import Number
from lossbench.status import RunStatus
from trainer import results

log = logging.getLogger("lossbench")


@dataclass
class TensorBoardConfig:
    """configs/logger/tensorboard.yaml"""

    # How often TensorBoard's writer thread flushes to disk; each epoch flushes anyway.
    flush_secs: Annotated[int, Number(low=1)] = MISSING


class RunLogger:
    """Writes the contract's TensorBoard tags and keeps metrics.json current."""

    def __init__(self, run_dir: Path, record: dict[str, Any], flush_secs: int = 30,
                 purge_step: int | None = None, started: float | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter  # slow import: only when training

        self.run_dir = run_dir
        self.record = record
        # Wall time: what the record already holds (earlier sessions of a resumed
        # run) plus this session's, counted from `started` (a perf_counter reading).
        self.earlier_s = record["wall_s"]
        self.started = time.perf_counter() if started is None else started
        # purge_step: TensorBoard drops what an interrupted run logged after its
        # checkpoint, so a resumed run's curves have no duplicated steps.
        self.writer = SummaryWriter(log_dir=str(run_dir), flush_secs=flush_secs,
                                    purge_step=purge_step)
        results.write(run_dir, record)

    def step(self, tag: str, value: float, global_step: int) -> None:
        self.writer.add_scalar(tag, value, global_step)

    def epoch(self, entry: dict[str, float], global_step: int) -> None:
        """One finished epoch: its scalars to TensorBoard, its entry to the record."""
        epoch = int(entry["epoch"])
        for tag, value in entry.items():
            if "/" in tag:
                self.writer.add_scalar(tag, value, global_step)
        self.writer.add_scalar("epoch", epoch, global_step)  # maps steps to epochs for readers
        self.writer.flush()
        history = [*self.record["history"], entry]
        self.record.update(history=history, epochs_completed=epoch, final=_metrics(entry),
                           best=_best(history), wall_s=self.wall_s())

    def commit(self) -> None:
        """metrics.json catches up with the epoch, once its checkpoint is on disk."""
        results.write(self.run_dir, self.record)
        entry = self.record["history"][-1]
        shown = "  ".join(f"{k} {v:.4g}" for k, v in entry.items() if "/" in k)
        log.info("epoch %d  %s  %.1fs", entry["epoch"], shown, entry["time_s"])

    def wall_s(self) -> float:
        return round(self.earlier_s + time.perf_counter() - self.started, 3)

    def finish(self, status: RunStatus, reason: str | None) -> dict[str, Any]:
        from torch.utils.tensorboard.summary import hparams

        self.record.update(status=str(status), reason=reason, wall_s=self.wall_s())
        # Only the session summaries: TensorBoard builds the experiment from all
        # runs under --logdir, so a sweep's HParams tab lists every swept value.
        # The metric tags point at the scalars already logged; no duplicates.
        metric_tags = {k: 0.0 for k in self.record["final"]}
        _, start, end = hparams(self.record["hparams"], metric_tags)
        writer = self.writer._get_file_writer()
        writer.add_summary(start)
        writer.add_summary(end)
        self.writer.close()
        results.write(self.run_dir, self.record)
        return self.record


def _metrics(entry: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in entry.items() if "/" in k}


def _best(history: list[dict[str, float]]) -> dict[str, float]:
    best: dict[str, float] = {}
    for tag in history[-1]:
        if tag.startswith("test/"):
            pick = max if higher_is_better(tag) else min
            values = [h[tag] for h in history if h.get(tag) == h.get(tag)]  # drop NaN
            if values:
                best[tag] = pick(values)
    return best
