"""One training loop for every task × loss pair. It knows tensors, not names.

Data stays on the device and batches are taken by index from a permutation
made there. The loop reads a number back to the host only every
`log_every_n_steps` steps and at the end of an epoch, so the device is never
stalled by a per-step `.item()`.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from lossbench.contract import TaskData
from lossbench.metrics import compute
from lossbench.status import RunStatus
from trainer import schedulers
from trainer.diagnostics import OutputGradients
from trainer.logger import RunLogger
from trainer.rundir import checkpoint, signals
from trainer.settings import Settings


@dataclass
class Outcome:
    status: RunStatus  # OK or DIVERGED
    reason: str | None = None


class Diverged(Exception):
    """A loss or a parameter became NaN or Inf: the run stops and is recorded, not crashed."""


@dataclass
class Training:
    """What every step of one fit() uses, made once before the first epoch."""

    model: nn.Module
    forward: nn.Module  # the model, or its torch.compile'd wrapper
    data: TaskData
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    cfg: Settings
    metrics: tuple[str, ...]
    logger: RunLogger
    order: torch.Generator  # draws each epoch's batch order, on the device
    scaler: torch.amp.GradScaler
    autocast: torch.autocast
    diagnostics: OutputGradients | None
    steps: int  # per epoch
    schedule: schedulers.Schedule  # the learning rate's, stepped per batch or per epoch


def steps_per_epoch(n_train: int, cfg: Settings) -> int:
    steps = math.ceil(n_train / cfg.batch_size)
    return min(steps, cfg.limit_train_batches) if cfg.limit_train_batches else steps


@torch.inference_mode()
def evaluate(model: nn.Module, data: TaskData, loss_fn: nn.Module, metrics: tuple[str, ...],
             autocast: torch.autocast | None = None, batch_size: int = 4096,
             split: str = "test") -> dict[str, float]:
    """`<split>/<metric>` and `<split>/loss` on the clean test set or the validation split,
    from one pass in large batches and one copy to the host."""
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    model.eval()
    with autocast or torch.autocast("cpu", enabled=False):
        outputs = torch.cat([model(data.prepare(batch)) for batch in x.split(batch_size)])
    model.train()
    return scores(outputs, y, loss_fn, metrics, split)


def scores(outputs: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module, metrics: tuple[str, ...],
           split: str = "test") -> dict[str, float]:
    """One model's `<split>/<metric>` and `<split>/loss` from its outputs on the whole split
    (a population member's come here too)."""
    result = {f"{split}/{k}": v for k, v in compute(metrics, outputs, y).items()}
    result[f"{split}/loss"] = loss_fn(outputs, y).item()
    return result


def fit(model: nn.Module, data: TaskData, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
        cfg: Settings, metrics: tuple[str, ...], logger: RunLogger,
        resume_from: dict | None = None) -> Outcome:
    """Train to `cfg.max_epochs`; stop early, recorded, on a non-finite loss.

    `resume_from` is a loaded checkpoint: training continues after its epoch
    with every random stream where it was, so the result matches a run that
    never stopped.
    """
    device = data.x_train.device
    run = Training(
        model=model, data=data, loss_fn=loss_fn, optimizer=optimizer, cfg=cfg, metrics=metrics,
        logger=logger,
        forward=torch.compile(model) if cfg.compile else model,  # checkpoints keep model's names
        order=torch.Generator(device=device).manual_seed(cfg.seed),
        scaler=torch.amp.GradScaler(device.type, enabled=cfg.precision == "16"),
        autocast=cfg.autocast(device),
        diagnostics=OutputGradients(data.corrupted) if cfg.diagnostics else None,
        steps=steps_per_epoch(len(data.x_train), cfg),
        # Built before the optimizer state is restored: torch's constructors set its lr.
        schedule=schedulers.build(cfg.scheduler, optimizer,
                                  steps_per_epoch(len(data.x_train), cfg)),
    )
    first_epoch = 1
    if resume_from is not None:
        checkpoint.restore(resume_from, model, optimizer, run.order, run.scaler, run.schedule)
        first_epoch = resume_from["epoch"] + 1
    try:
        for epoch in range(first_epoch, cfg.max_epochs + 1):
            started = time.perf_counter()
            lr = schedulers.current_lr(optimizer)  # the epoch's (its first step's if per step)
            train_loss = train_epoch(run, epoch)
            run.schedule.after_epoch()
            end_epoch(run, epoch, train_loss, started, lr)
    except Diverged as err:
        return Outcome(RunStatus.DIVERGED, str(err))
    return Outcome(RunStatus.OK)


def train_epoch(run: Training, epoch: int) -> float:
    """One pass over the shuffled training data; returns the epoch's mean training loss."""
    data, cfg = run.data, run.cfg
    batches = torch.randperm(len(data.x_train), device=data.x_train.device,
                             generator=run.order).split(cfg.batch_size)[: run.steps]
    window = torch.zeros((), device=data.x_train.device)  # loss summed since the last read-back
    epoch_sum = 0.0
    bar = _progress(cfg.progress_bar and sys.stderr.isatty(), run.steps, epoch, cfg.max_epochs)
    for step, idx in enumerate(batches, start=1):
        log_now = step % cfg.log_every_n_steps == 0 or step == run.steps
        loss, grad_scalars = train_step(run, idx, log_now)
        window += loss.detach()
        if log_now:
            epoch_sum += log_step(run, window, grad_scalars, epoch, step)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return epoch_sum / run.steps


def train_step(run: Training, idx: torch.Tensor, log_now: bool
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Forward, backward and an optimizer step on one batch; gradient scalars when logging."""
    data, diagnostics = run.data, run.diagnostics
    # index_select: about 5× cheaper than x[idx] for a batch (scripts/bench/profile_loop.py).
    with run.autocast:
        output = run.forward(data.prepare(data.x_train.index_select(0, idx)))
        loss = run.loss_fn(output, data.y_train.index_select(0, idx))
    if diagnostics and log_now:
        diagnostics.watch(output)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    grad_scalars = diagnostics.scalars(run.model, idx, run.scaler.get_scale()) \
        if diagnostics and log_now else {}
    if run.cfg.gradient_clip_val:
        _clip_gradients(run.model, run.optimizer, run.scaler, run.cfg.gradient_clip_val)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.schedule.after_step()
    return loss, grad_scalars


def log_step(run: Training, window: torch.Tensor, grad_scalars: dict[str, torch.Tensor],
             epoch: int, step: int) -> float:
    """Read the loss window back (the loop's only host sync), log it, return its sum."""
    every = run.cfg.log_every_n_steps
    window_sum = window.item()
    window.zero_()
    if not math.isfinite(window_sum):
        raise Diverged(f"training loss became {window_sum} at epoch {epoch}, step {step} "
                       f"(checked every {every} steps)")
    global_step = (epoch - 1) * run.steps + step
    run.logger.step("train/loss", window_sum / ((step - 1) % every + 1), global_step)
    if grad_scalars:  # one read-back for all of them
        values = torch.stack(list(grad_scalars.values())).tolist()
        for tag, value in zip(grad_scalars, values, strict=True):
            run.logger.step(tag, value, global_step)
    return window_sum


def end_epoch(run: Training, epoch: int, train_loss: float, started: float, lr: float) -> None:
    """Evaluate, log the epoch, checkpoint it, then let metrics.json claim it."""
    entry = {"epoch": epoch, "train/loss_epoch": train_loss, "train/lr": lr}
    entry.update(evaluate(run.forward, run.data, run.loss_fn, run.metrics, run.autocast))
    if run.data.x_val is not None:
        entry.update(evaluate(run.forward, run.data, run.loss_fn, run.metrics, run.autocast,
                              split="val"))
    if not _finite_parameters(run.model):
        raise Diverged(f"a model parameter became NaN or Inf in epoch {epoch}")
    entry["time_s"] = round(time.perf_counter() - started, 4)
    record_epoch(run.logger, entry, epoch * run.steps,
                 lambda: checkpoint.save(run.logger.run_dir, run.model, run.optimizer,
                                         run.order, run.scaler, run.logger.staged_record(),
                                         run.schedule))


def record_epoch(logger: RunLogger, entry: dict[str, float], global_step: int,
                 save_checkpoint: Callable[[], None]) -> None:
    """A finished epoch's scalars, checkpoint and metrics.json, in the order resume relies on
    (a population member's go through here too)."""
    # Ctrl-C and SIGTERM wait for the checkpoint and metrics.json to agree.
    with signals.deferred():
        # Epoch scalars share the step axis of train/loss, so a resumed run's
        # purge_step removes everything after its checkpoint, whatever the tag.
        logger.epoch(entry, global_step=global_step)
        commit_epoch(logger, save_checkpoint)


def commit_epoch(logger: RunLogger, save_checkpoint: Callable[[], None]) -> None:
    """The staged epoch to disk: checkpoint before metrics.json, so the record never claims
    an epoch that a resume could not start after."""
    save_checkpoint()
    logger.commit()


def _clip_gradients(model: nn.Module, optimizer: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler, max_norm: float) -> None:
    """Bound the global gradient norm; under precision 16 the gradients are unscaled first."""
    scaler.unscale_(optimizer)  # a no-op scaler when precision 16 is off
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)


def _finite_parameters(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _progress(show: bool, steps: int, epoch: int, epochs: int):
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", leave=False, file=sys.stderr)
