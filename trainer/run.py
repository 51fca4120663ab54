"""One run from a composed config to its metrics: the composition root train.py calls.

Guard the run dir, build (trainer/assemble.py), train (trainer/engine/: a population of
one), finish.
What happens on a mistake, a signal or a crash is trainer/rundir/policy.py's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from lossbench.contract import TaskData
from trainer.assemble import Parts, assemble, check_all
from trainer.engine import loop
from trainer.engine.member import Member, steps_per_epoch
from trainer.logger import RunLogger
from trainer.rundir import policy, resume
from trainer.rundir.policy import Progress, Record

log = logging.getLogger("lossbench")


def run(cfg: DictConfig, run_dir: Path, multirun: bool = False) -> Record | None:
    """Train one task × loss pair; write and return its metrics.json record.

    The run dir is claimed first (None: a sweep job refused); a user's mistake raises
    UserError in a single run and is recorded in a multirun. Ctrl-C or SIGTERM records
    `interrupted` and re-raises KeyboardInterrupt; `trainer.resume=true` continues from
    checkpoints/last.pt (trainer/rundir/policy.py).
    """
    return policy.guarded(cfg, run_dir, multirun,
                          lambda progress: train(setup(cfg, run_dir, progress)))


@dataclass
class Job:
    """A run checked, built and logging: what `train` fits, alone or in a population."""

    cfg: DictConfig
    parts: Parts
    logger: RunLogger


def setup(cfg: DictConfig, run_dir: Path, progress: Progress,
          built: dict[str, TaskData] | None = None) -> Job:
    """Check, build and start logging (`built`: data shared by the runs of one process)."""
    checked = check_all(cfg)
    if progress.state is not None:
        resume.carry_over(checked.record, progress.state)
    progress.checked(checked.record)
    parts = assemble(cfg, checked, progress.state, built)
    logger = start_logging(cfg, run_dir, parts, progress.started)
    progress.training(logger)
    return Job(cfg, parts, logger)


def train(job: Job) -> Record:
    """The engine's population of one; its error, if it failed, raised here."""
    member = Member(job)  # takes the random streams its setup left
    loop.train([member])
    if member.error is not None:
        raise member.error
    return member.record


def start_logging(cfg: DictConfig, run_dir: Path, parts: Parts, started: float) -> RunLogger:
    """The record and TensorBoard as the first epoch (or the resumed one) finds them."""
    record, data, state = parts.record, parts.data, parts.state
    record["device"] = str(parts.device)
    n_val = 0 if data.x_val is None else len(data.x_val)
    record["data"] = {"n_train": len(data.x_train), "n_val": n_val, "n_test": len(data.x_test),
                      **data.info}
    purge_step = None  # (a dead earlier attempt's curves went when the run dir was claimed)
    if state is not None:
        purge_step = state["epoch"] * steps_per_epoch(len(data.x_train), parts.settings) + 1
        log.info("resuming %s after epoch %d", run_dir, state["epoch"])
    log.info("%s × %s on %s: %d train / %d validation / %d test samples%s", cfg.task.name,
             cfg.loss.name, parts.device, len(data.x_train), n_val, len(data.x_test),
             "".join(f", {k} {v:.4g}" for k, v in data.info.items()))
    logger = RunLogger(run_dir, record, cfg.get("logger") or {}, purge_step=purge_step,
                       started=started)
    if state is None:  # a resumed run logged these already
        for key, value in data.info.items():  # e.g. the realised share of flipped labels
            logger.step(f"data/{key}", value, 0)
    return logger
