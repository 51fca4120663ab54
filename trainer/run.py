"""One run from a composed config to its metrics: the composition root train.py calls.

Guard the run dir, build (trainer/assemble.py), fit (trainer/loop.py), finish.
What happens on a mistake, a signal or a crash is trainer/policy.py's.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lossbench.status import RunStatus
from trainer import resume
from trainer.assemble import Parts, assemble
from trainer.logger import RunLogger
from trainer.loop import fit, steps_per_epoch
from trainer.policy import RunDirTaken, recorded_end, single_or_sweep
from trainer.results import METRICS_FILE

log = logging.getLogger("lossbench")


@single_or_sweep
def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train one task × loss pair; write and return its metrics.json record.

    Called as `run(cfg, run_dir, multirun=False)`: a user's mistake raises
    UserError in a single run and is recorded in a multirun. Ctrl-C or
    SIGTERM records `interrupted` and re-raises KeyboardInterrupt;
    `trainer.resume=true` continues from checkpoints/last.pt.
    """
    started = time.perf_counter()
    if cfg.trainer.resume and (done := resume.finished(run_dir)):
        log.info("%s already finished (status %s): nothing to resume", run_dir, done["status"])
        return done
    if not cfg.trainer.resume and (run_dir / METRICS_FILE).exists():
        raise RunDirTaken(f"{run_dir} already holds a run: add trainer.resume=true to continue "
                          "it, or choose another run dir.")
    parts = assemble(cfg, run_dir)
    logger = start_logging(cfg, run_dir, parts, started)
    with recorded_end(logger):
        outcome = fit(parts.model, parts.data, parts.loss_fn, parts.optimizer, parts.settings,
                      parts.task.METRICS, logger, parts.state)
    if outcome.status == RunStatus.DIVERGED:
        log.warning("diverged: %s", outcome.reason)
    return logger.finish(outcome.status, outcome.reason)


def start_logging(cfg: DictConfig, run_dir: Path, parts: Parts, started: float) -> RunLogger:
    """The record and TensorBoard as the first epoch (or the resumed one) finds them."""
    record, data, state = parts.record, parts.data, parts.state
    record["device"] = str(parts.device)
    record["data"] = {"n_train": len(data.x_train), "n_test": len(data.x_test), **data.info}
    purge_step = None
    if cfg.trainer.resume and state is None:
        # Killed before its first checkpoint: start over, without the dead run's curves.
        for events in run_dir.glob("events.out.tfevents.*"):
            events.unlink()
    if state is not None:
        record.update({k: state["record"][k] for k in ("history", "final", "best", "wall_s")},
                      epochs_completed=state["epoch"])
        purge_step = state["epoch"] * steps_per_epoch(len(data.x_train), parts.settings) + 1
        log.info("resuming %s after epoch %d", run_dir, state["epoch"])
    log.info("%s × %s on %s: %d train / %d test samples%s", cfg.task.name, cfg.loss.name,
             parts.device, len(data.x_train), len(data.x_test),
             "".join(f", {k} {v:.4g}" for k, v in data.info.items()))
    logger = RunLogger(run_dir, record, flush_secs=cfg.logger.flush_secs, purge_step=purge_step,
                       started=started)
    if state is None:  # a resumed run logged these already
        for key, value in data.info.items():  # e.g. the realised share of flipped labels
            logger.step(f"data/{key}", value, 0)
    return logger
