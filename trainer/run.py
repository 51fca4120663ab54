"""One run from a composed config to its metrics: the function train.py calls."""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

import tasks
from tasks import Misfit, UserError, require
from trainer import losses, models, optimizers, results
from trainer.logger import RunLogger
from trainer.loop import Settings, fit

log = logging.getLogger("lossbench")

DEVICES = ("auto", "cpu", "cuda")


def pick_device(name: str) -> torch.device:
    require(name in DEVICES or name.startswith("cuda:"), "trainer.device", name,
            f"one of {', '.join(DEVICES)} (or cuda:N)")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"trainer.device={name} but this machine has no CUDA device "
                        f"(torch {torch.__version__}); use trainer.device=cpu or auto.")
    return torch.device(name)


def check(cfg: DictConfig, task: Any) -> None:
    """Every value range, before any data is read or anything is trained."""
    def positive_int(key: str, value: object) -> None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        require(ok, key, value, "an integer >= 1")

    positive_int("trainer.max_epochs", cfg.trainer.max_epochs)
    positive_int("task.batch_size", cfg.task.batch_size)
    positive_int("trainer.log_every_n_steps", cfg.trainer.log_every_n_steps)
    if cfg.trainer.limit_train_batches is not None:
        positive_int("trainer.limit_train_batches", cfg.trainer.limit_train_batches)
    require(isinstance(cfg.seed, int), "seed", cfg.seed, "an integer")
    lr = cfg.optim.lr
    require(isinstance(lr, (int, float)) and lr > 0, "optim.lr", lr, "a number > 0")
    losses.check(dict(cfg.loss))
    task.check(cfg.task)


def misfit(cfg: DictConfig, task: Any) -> str | None:
    """Why this task and loss do not go together, or None when they do."""
    if losses.accepts(cfg.loss.name, task.KIND):
        return None
    cls = losses.lookup(cfg.loss.name)
    return (f"task={cfg.task.name} ({task.KIND} targets) does not fit loss={cfg.loss.name} "
            f"(accepts {', '.join(cls.adapters)} targets); losses valid for "
            f"task={cfg.task.name}: {', '.join(losses.valid_for(task.KIND))}.")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run(cfg: DictConfig, run_dir: Path, multirun: bool = False) -> dict[str, Any]:
    """Train one task × loss pair; write and return its metrics.json record.

    A user's mistake raises UserError in a single run. In a multirun it is
    recorded instead (`skipped` for a pair that does not fit, `failed` for a
    bad value) and the sweep goes on.
    """
    started = time.perf_counter()
    record = results.new_record(cfg)
    try:
        task = tasks.get(cfg.task.name)
        check(cfg, task)
        if reason := misfit(cfg, task):
            raise Misfit(reason)
        device = pick_device(cfg.trainer.device)
        seed_everything(cfg.seed)
        data = task.build(cfg.task).to(device)
        model = models.build(cfg.model, data.input_shape, data.n_outputs)
    except UserError as err:
        if not multirun:
            raise
        # In a sweep one bad job must not stop the others: record it and go on.
        status = "skipped" if isinstance(err, Misfit) else "failed"
        record.update(status=status, reason=str(err))
        results.write(run_dir, record)
        log.warning("%s: %s", status, err)
        return record

    model.to(device)
    loss_fn = losses.build(dict(cfg.loss), data.kind)
    optimizer = optimizers.build(cfg.optim, model.parameters())
    settings = Settings(
        max_epochs=cfg.trainer.max_epochs, batch_size=cfg.task.batch_size, seed=cfg.seed,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        limit_train_batches=cfg.trainer.limit_train_batches,
        progress_bar=cfg.trainer.progress_bar,
    )
    record["device"] = str(device)
    record["data"] = {"n_train": len(data.x_train), "n_test": len(data.x_test), **data.info}
    log.info("%s × %s on %s: %d train / %d test samples%s", cfg.task.name, cfg.loss.name, device,
             len(data.x_train), len(data.x_test),
             "".join(f", {k} {v:.4g}" for k, v in data.info.items()))
    logger = RunLogger(run_dir, record, flush_secs=cfg.logger.flush_secs)
    for key, value in data.info.items():  # e.g. the realised share of flipped labels
        logger.step(f"data/{key}", value, 0)
    outcome = fit(model, data, loss_fn, optimizer, settings, task.METRICS, logger)
    if outcome.status == "diverged":
        log.warning("diverged: %s", outcome.reason)
    return logger.finish(outcome.status, outcome.reason, time.perf_counter() - started)

