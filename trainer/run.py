"""One run from a composed config to its metrics: the function train.py calls."""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

import tasks
from tasks import Misfit, UserError, require
from trainer import checkpoint, losses, models, optimizers, results, resume, schemas
from trainer.logger import RunLogger
from trainer.loop import Settings, fit, steps_per_epoch

log = logging.getLogger("lossbench")

DEVICES = schemas.DEVICES


def pick_device(name: str) -> torch.device:
    require(name in DEVICES or name.startswith("cuda:"), "trainer.device", name,
            f"one of {', '.join(DEVICES)} (or cuda:N)")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"trainer.device={name} but this machine has no CUDA device "
                        f"(torch {torch.__version__}); use trainer.device=cpu or auto.")
    return torch.device(name)


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


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("SIGTERM")


def run(cfg: DictConfig, run_dir: Path, multirun: bool = False) -> dict[str, Any]:
    """Train one task × loss pair; write and return its metrics.json record.

    A user's mistake raises UserError in a single run. In a multirun it is
    recorded instead (`skipped` for a pair that does not fit, `failed` for a
    bad value) and the sweep goes on. Ctrl-C or SIGTERM records `interrupted`
    and re-raises KeyboardInterrupt; `trainer.resume=true` continues from
    checkpoints/last.pt.
    """
    started = time.perf_counter()
    if not multirun:
        schemas.check(cfg)  # first: even the record below cannot be made from a broken config
    record = results.new_record(cfg)
    if cfg.trainer.resume and (done := resume.finished(run_dir)):
        log.info("%s already finished (status %s): nothing to resume", run_dir, done["status"])
        return done
    if not cfg.trainer.resume and (run_dir / results.METRICS_FILE).exists():
        # Starting over would overwrite a run the user may have finished.
        message = (f"{run_dir} already holds a run: add trainer.resume=true to continue it, "
                   "or choose another run dir.")
        if not multirun:
            raise UserError(message)
        log.error(message)
        return results.read(run_dir)
    try:
        schemas.check(cfg)  # every key and value, before any data is read
        task = tasks.get(cfg.task.name)
        if reason := misfit(cfg, task):
            raise Misfit(reason)
        device = pick_device(cfg.trainer.device)
        if str(cfg.trainer.precision) == "16" and device.type != "cuda":
            raise UserError(f"trainer.precision=16 needs CUDA, but the run is on {device}; "
                            "use trainer.precision=bf16 or 32.")
        seed_everything(cfg.seed)
        data = task.build(cfg.task).to(device)
        models.check_fits(cfg.model, data.input_shape, data.n_outputs, cfg.task.batch_size,
                          len(data.x_train), device)
        model = models.build(cfg.model, data.input_shape, data.n_outputs).to(device)
        loss_fn = losses.build(dict(cfg.loss), data.kind)
        optimizer = optimizers.build(cfg.optim, model.parameters())
        state = checkpoint.load(run_dir, device) if cfg.trainer.resume else None
        if state is not None:
            resume.check_same_run(state["record"]["hparams"], record["hparams"], run_dir)
    except UserError as err:
        if not multirun:
            raise
        # In a sweep one bad job must not stop the others: record it and go on.
        status = "skipped" if isinstance(err, Misfit) else "failed"
        record.update(status=status, reason=str(err))
        results.write(run_dir, record)
        log.warning("%s: %s", status, err)
        return record

    settings = Settings(
        max_epochs=cfg.trainer.max_epochs, batch_size=cfg.task.batch_size, seed=cfg.seed,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        limit_train_batches=cfg.trainer.limit_train_batches,
        progress_bar=cfg.trainer.progress_bar,
        precision=str(cfg.trainer.precision), compile=cfg.trainer.compile,
        diagnostics=cfg.trainer.diagnostics,
    )
    record["device"] = str(device)
    record["data"] = {"n_train": len(data.x_train), "n_test": len(data.x_test), **data.info}
    purge_step = None
    if cfg.trainer.resume and state is None:
        # Killed before its first checkpoint: start over, without the dead run's curves.
        for events in run_dir.glob("events.out.tfevents.*"):
            events.unlink()
    if state is not None:
        record.update({k: state["record"][k] for k in ("history", "final", "best", "wall_s")},
                      epochs_completed=state["epoch"])
        purge_step = state["epoch"] * steps_per_epoch(len(data.x_train), settings) + 1
        log.info("resuming %s after epoch %d", run_dir, state["epoch"])
    log.info("%s × %s on %s: %d train / %d test samples%s", cfg.task.name, cfg.loss.name, device,
             len(data.x_train), len(data.x_test),
             "".join(f", {k} {v:.4g}" for k, v in data.info.items()))
    logger = RunLogger(run_dir, record, flush_secs=cfg.logger.flush_secs, purge_step=purge_step,
                       started=started)
    if state is None:  # a resumed run logged these already
        for key, value in data.info.items():  # e.g. the realised share of flipped labels
            logger.step(f"data/{key}", value, 0)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        outcome = fit(model, data, loss_fn, optimizer, settings, task.METRICS, logger, state)
    except KeyboardInterrupt as err:
        signal_name = str(err) or "SIGINT"
        logger.finish("interrupted", f"{signal_name} during epoch "
                      f"{record['epochs_completed'] + 1}")
        raise
    except Exception as err:
        logger.finish("failed", f"{type(err).__name__}: {err}")
        raise
    if outcome.status == "diverged":
        log.warning("diverged: %s", outcome.reason)
    return logger.finish(outcome.status, outcome.reason)
