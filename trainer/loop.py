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

from tasks import TaskData
from tasks.metrics import compute
from trainer import checkpoint
from trainer.diagnostics import OutputGradients
from trainer.logger import RunLogger


@dataclass
class Settings:
    max_epochs: int
    batch_size: int
    seed: int
    log_every_n_steps: int = 50
    limit_train_batches: int | None = None
    progress_bar: bool = True
    precision: str = "32"  # "32", "bf16" or "16" (autocast; 16 adds a gradient scaler)
    compile: bool = False
    diagnostics: bool = False  # output-gradient scalars at logged steps

    def autocast(self, device: torch.device) -> torch.autocast:
        dtype = {"bf16": torch.bfloat16, "16": torch.float16}.get(self.precision)
        return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


@dataclass
class Outcome:
    status: str  # "ok" or "diverged"
    reason: str | None = None


def steps_per_epoch(n_train: int, cfg: Settings) -> int:
    steps = math.ceil(n_train / cfg.batch_size)
    return min(steps, cfg.limit_train_batches) if cfg.limit_train_batches else steps


@torch.inference_mode()
def evaluate(model: nn.Module, data: TaskData, loss_fn: nn.Module, metrics: tuple[str, ...],
             autocast: torch.autocast | None = None, batch_size: int = 4096) -> dict[str, float]:
    """Clean-test metrics, from one pass in large batches and one copy to the host."""
    model.eval()
    with autocast or torch.autocast("cpu", enabled=False):
        outputs = torch.cat([model(data.prepare(x)) for x in data.x_test.split(batch_size)])
    model.train()
    return scores(outputs, data, loss_fn, metrics)


def scores(outputs: torch.Tensor, data: TaskData, loss_fn: nn.Module, metrics: tuple[str, ...]
           ) -> dict[str, float]:
    """One model's test metrics and test loss from its outputs on the whole test set."""
    result = {f"test/{k}": v for k, v in compute(metrics, outputs, data.y_test).items()}
    result["test/loss"] = loss_fn(outputs, data.y_test).item()
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
    order = torch.Generator(device=device).manual_seed(cfg.seed)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "16")
    first_epoch = 1
    if resume_from is not None:
        checkpoint.restore(resume_from, model, optimizer, order, scaler)
        first_epoch = resume_from["epoch"] + 1
    forward = torch.compile(model) if cfg.compile else model  # checkpoints keep `model`'s names
    diagnostics = OutputGradients(data.corrupted) if cfg.diagnostics else None
    autocast = cfg.autocast(device)
    n = len(data.x_train)
    steps = steps_per_epoch(n, cfg)
    every = cfg.log_every_n_steps
    show_bar = cfg.progress_bar and sys.stderr.isatty()

    for epoch in range(first_epoch, cfg.max_epochs + 1):
        started = time.perf_counter()
        batches = torch.randperm(n, device=device, generator=order).split(cfg.batch_size)[:steps]
        window = torch.zeros((), device=device)  # loss summed since the last read-back
        epoch_sum = 0.0
        bar = _progress(show_bar, steps, epoch, cfg.max_epochs)
        for step, idx in enumerate(batches, start=1):
            log_now = step % every == 0 or step == steps
            # index_select: about 5× cheaper than x[idx] for a batch (scripts/profile_loop.py).
            with autocast:
                output = forward(data.prepare(data.x_train.index_select(0, idx)))
                loss = loss_fn(output, data.y_train.index_select(0, idx))
            if diagnostics and log_now:
                diagnostics.watch(output)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            grad_scalars = diagnostics.scalars(model, idx, scaler.get_scale()) \
                if diagnostics and log_now else {}
            scaler.step(optimizer)
            scaler.update()
            window += loss.detach()
            if log_now:
                window_sum = window.item()  # the loop's only host sync
                window.zero_()
                logged = (step - 1) % every + 1
                if not math.isfinite(window_sum):
                    return Outcome("diverged", f"training loss became {window_sum} at epoch "
                                   f"{epoch}, step {step} (checked every {every} steps)")
                epoch_sum += window_sum
                global_step = (epoch - 1) * steps + step
                logger.step("train/loss", window_sum / logged, global_step)
                if grad_scalars:  # one read-back for all of them
                    values = torch.stack(list(grad_scalars.values())).tolist()
                    for tag, value in zip(grad_scalars, values, strict=True):
                        logger.step(tag, value, global_step)
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.close()
        entry = {"epoch": epoch, "train/loss_epoch": epoch_sum / steps}
        entry.update(evaluate(forward, data, loss_fn, metrics, autocast))
        if not _finite_parameters(model):
            return Outcome("diverged", f"a model parameter became NaN or Inf in epoch {epoch}")
        entry["time_s"] = round(time.perf_counter() - started, 4)
        record_epoch(logger, entry, epoch * steps,
                     lambda: checkpoint.save(logger.run_dir, model, optimizer, order, scaler,
                                             logger.record))
    return Outcome("ok")


def record_epoch(logger: RunLogger, entry: dict[str, float], global_step: int,
                 save_checkpoint: Callable[[], None]) -> None:
    """A finished epoch's scalars, checkpoint and metrics.json, in the order resume relies on."""
    # Epoch scalars share the step axis of train/loss, so a resumed run's
    # purge_step removes everything after its checkpoint, whatever the tag.
    logger.epoch(entry, global_step=global_step)
    # Checkpoint before metrics.json, so the record never claims an epoch
    # that a resume could not start after.
    save_checkpoint()
    logger.commit()


def _finite_parameters(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _progress(show: bool, steps: int, epoch: int, epochs: int):
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", leave=False, file=sys.stderr)
