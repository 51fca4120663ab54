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
from tasks import Misfit, UserError, is_int, is_number, require
from trainer import hydra_output, losses, models, optimizers, results, signals, sweep
from trainer.claim import Claim, claim
from trainer.logger import RunLogger
from trainer.loop import Settings, fit, steps_per_epoch

log = logging.getLogger("lossbench")

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("32", "bf16", "16")


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
        require(is_int(value) and value >= 1, key, value, "an integer >= 1")

    positive_int("trainer.max_epochs", cfg.trainer.max_epochs)
    positive_int("task.batch_size", cfg.task.batch_size)
    positive_int("trainer.log_every_n_steps", cfg.trainer.log_every_n_steps)
    if cfg.trainer.limit_train_batches is not None:
        positive_int("trainer.limit_train_batches", cfg.trainer.limit_train_batches)
    require(is_int(cfg.seed) and cfg.seed >= 0, "seed", cfg.seed, "an integer >= 0")
    require(str(cfg.trainer.precision) in PRECISIONS, "trainer.precision", cfg.trainer.precision,
            f"one of {', '.join(PRECISIONS)}")
    lr = cfg.optim.lr
    require(is_number(lr) and lr > 0, "optim.lr", lr, "a number > 0")
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


class Progress:
    """How far a run got, so that however it ends, its record says so."""

    def __init__(self, run_dir: Path, started: float) -> None:
        self.run_dir, self.started = run_dir, started
        self.record: dict[str, Any] | None = None
        self.written = False  # metrics.json holds the record (the checks have passed)
        self.logger: RunLogger | None = None  # training has started

    def where(self) -> str:
        if self.logger is None:
            return "during start-up"
        return f"during epoch {self.logger.record['epochs_completed'] + 1}"

    def end(self, status: str, reason: str, cfg: DictConfig) -> dict[str, Any]:
        """Record how the run ended; a record that cannot be written is logged, not raised
        over the error that ended the run."""
        try:
            if self.logger is not None:
                return self.logger.finish(status, reason)  # it raises if it cannot write
            if self.record is None:
                try:
                    self.record = results.new_record(cfg)
                except Exception:  # the config itself is what failed
                    self.record = results.fallback_record(cfg)
            self.record.update(status=status, reason=reason,
                               wall_s=round(time.perf_counter() - self.started, 3))
            results.write(self.run_dir, self.record)
            self.written = True
        except Exception as err:
            log.error("could not record status %s in %s: %s", status, self.run_dir, err)
        return self.record or {"status": status, "reason": reason}


def run(cfg: DictConfig, run_dir: Path, multirun: bool = False) -> dict[str, Any] | None:
    """Train one task × loss pair; write and return its metrics.json record.

    The run first takes its run dir (trainer/claim.py): a dir another process
    holds, or one holding a run this one may not replace, is refused with
    nothing written there (UserError in a single run; None in a sweep, noted
    as refused). A user's mistake raises UserError in a single run; in a
    multirun it is recorded (`skipped` for a pair that does not fit, `failed`
    otherwise) and the sweep goes on, as it does after any other exception.
    Ctrl-C or SIGTERM records `interrupted` and raises signals.Interrupted;
    `trainer.resume=true` continues from checkpoints/last.pt.
    """
    started = time.perf_counter()
    signals.interrupt_on_sigterm()
    if multirun:
        sweep.note(run_dir, "running")
    try:
        hparams: dict[str, Any] | None = results.flat_hparams(cfg)
    except Exception:  # an unresolvable value: recorded as failed below
        hparams = None
    try:
        claimed = claim(run_dir, hparams, bool(cfg.trainer.resume))
    except Exception as err:  # Refused, or a run dir that cannot be written at all
        if not multirun:
            raise
        # Nothing can be recorded in a dir the job does not hold: counted as refused.
        log.error("refused: %s", err, exc_info=not isinstance(err, UserError))
        sweep.note(run_dir, sweep.REFUSED, str(err))
        return None
    try:
        if claimed.finished is not None:
            log.info("%s already finished (status %s): nothing to resume", run_dir,
                     claimed.finished["status"])
            if multirun:
                sweep.note(run_dir, sweep.FINISHED_BEFORE)
            return claimed.finished
        record = _guarded(cfg, run_dir, claimed, multirun, Progress(run_dir, started))
        if multirun:
            sweep.note(run_dir, record["status"], record["reason"])
        return record
    finally:
        claimed.release()


def _guarded(cfg: DictConfig, run_dir: Path, claimed: Claim, multirun: bool,
             progress: Progress) -> dict[str, Any]:
    """`_train`, with every way out recorded."""
    try:
        hydra_output.write(run_dir, cfg)
        for line in claimed.notes:
            log.info(line)
        return _train(cfg, run_dir, claimed.state, progress)
    except KeyboardInterrupt as err:
        reason = f"{str(err) or 'SIGINT'} {progress.where()}"
        progress.end("interrupted", reason, cfg)
        if multirun:
            sweep.note(run_dir, "interrupted", reason)
        raise signals.Interrupted(reason, recorded=progress.written) from err
    except Exception as err:
        if not multirun and isinstance(err, UserError) and not progress.written:
            raise  # a mistake in a single run's config: one line, nothing recorded
        status = "skipped" if isinstance(err, Misfit) else "failed"
        reason = str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
        record = progress.end(status, reason, cfg)
        if not multirun:
            raise
        # In a sweep one bad job must not stop the others: recorded, and the sweep goes on.
        if isinstance(err, UserError):
            log.warning("%s: %s", status, err)
        else:
            log.error("%s: %s", status, reason, exc_info=True)
        return record


def _train(cfg: DictConfig, run_dir: Path, state: dict[str, Any] | None,
           progress: Progress) -> dict[str, Any]:
    record = progress.record = results.new_record(cfg)
    task = tasks.get(cfg.task.name)
    check(cfg, task)
    if reason := misfit(cfg, task):
        raise Misfit(reason)
    device = pick_device(cfg.trainer.device)
    if str(cfg.trainer.precision) == "16" and device.type != "cuda":
        raise UserError(f"trainer.precision=16 needs CUDA, but the run is on {device}; "
                        "use trainer.precision=bf16 or 32.")
    if state is not None:
        record.update({k: state["record"][k] for k in ("history", "final", "best", "wall_s")},
                      epochs_completed=state["epoch"])
    # From here on the record exists, so an interrupt or a failure is written into it.
    results.write(run_dir, record)
    progress.written = True
    seed_everything(cfg.seed)
    data = task.build(cfg.task).to(device)
    model = models.build(cfg.model, data.input_shape, data.n_outputs).to(device)
    loss_fn = losses.build(dict(cfg.loss), data.kind)
    optimizer = optimizers.build(cfg.optim, model.parameters())

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
    if state is not None:
        purge_step = state["epoch"] * steps_per_epoch(len(data.x_train), settings) + 1
        log.info("resuming %s after epoch %d", run_dir, state["epoch"])
    log.info("%s × %s on %s: %d train / %d test samples%s", cfg.task.name, cfg.loss.name, device,
             len(data.x_train), len(data.x_test),
             "".join(f", {k} {v:.4g}" for k, v in data.info.items()))
    logger = progress.logger = RunLogger(run_dir, record, flush_secs=cfg.logger.flush_secs,
                                         purge_step=purge_step, started=progress.started)
    if state is None:  # a resumed run logged these already
        for key, value in data.info.items():  # e.g. the realised share of flipped labels
            logger.step(f"data/{key}", value, 0)
    outcome = fit(model, data, loss_fn, optimizer, settings, task.METRICS, logger, state)
    if outcome.status == "diverged":
        log.warning("diverged: %s", outcome.reason)
    return logger.finish(outcome.status, outcome.reason)
