"""Learning-rate schedules by the name in `cfg.scheduler.name`; the other keys are their arguments.

Each schedule says whether torch's scheduler steps once per batch (onecycle)
or once per epoch (cosine, step). The loop calls `after_step` and `after_epoch`
either way, so it has no branch for the kind. A schedule's state goes into
checkpoints/last.pt, so a resumed run continues it where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import torch
from omegaconf import MISSING, OmegaConf
from torch.optim import lr_scheduler

from lossbench.errors import UserError, require
from lossbench.registry import lookup
from lossbench.schema import Number
from trainer import optimizers

Epochs = Annotated[int, Number(low=1)]
Positive = Annotated[float, Number(low=0, low_open=True)]


@dataclass
class NoneConfig:
    """configs/scheduler/none.yaml"""

    name: str = MISSING


@dataclass
class CosineConfig(NoneConfig):
    """configs/scheduler/cosine.yaml: CosineAnnealingLR's keyword arguments."""

    T_max: Epochs = MISSING
    eta_min: Annotated[float, Number(low=0)] = MISSING


@dataclass
class StepConfig(NoneConfig):
    """configs/scheduler/step.yaml: StepLR's keyword arguments."""

    step_size: Epochs = MISSING
    gamma: Positive = MISSING


@dataclass
class OneCycleConfig(NoneConfig):
    """configs/scheduler/onecycle.yaml: OneCycleLR's keyword arguments."""

    max_lr: Positive = MISSING
    epochs: Epochs = MISSING  # and at least trainer.max_epochs: `check`
    pct_start: Annotated[float, Number(0, 1, low_open=True, high_open=True)] = MISSING
    div_factor: Positive = MISSING
    final_div_factor: Positive = MISSING
    cycle_momentum: bool = MISSING


@dataclass(frozen=True)
class Kind:
    make: Callable[..., lr_scheduler.LRScheduler]
    per_step: bool
    # Arguments the run supplies, from its length: {name: f(steps_per_epoch)}.
    sized: Callable[[int], dict[str, int]] = lambda steps: {}


SCHEDULES: dict[str, Kind | None] = {
    "none": None,
    "cosine": Kind(lr_scheduler.CosineAnnealingLR, per_step=False),
    "step": Kind(lr_scheduler.StepLR, per_step=False),
    # OneCycle is defined over batches: `epochs` comes from the config, the
    # batches per epoch from the data, and torch steps it once per batch.
    "onecycle": Kind(lr_scheduler.OneCycleLR, per_step=True,
                     sized=lambda steps: {"steps_per_epoch": steps}),
}
SCHEMAS: dict[str, type] = {"none": NoneConfig, "cosine": CosineConfig, "step": StepConfig,
                            "onecycle": OneCycleConfig}


class Schedule:
    """A torch LR scheduler (or none) behind the two calls the loop makes."""

    def __init__(self, scheduler: lr_scheduler.LRScheduler | None, per_step: bool) -> None:
        self.scheduler = scheduler
        self.per_step = per_step

    def after_step(self) -> None:
        if self.scheduler is not None and self.per_step:
            self.scheduler.step()

    def after_epoch(self) -> None:
        if self.scheduler is not None and not self.per_step:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any] | None:
        return None if self.scheduler is None else self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.scheduler is not None and state is not None:
            self.scheduler.load_state_dict(state)


def build(cfg: dict[str, Any] | None, optimizer: torch.optim.Optimizer,
          steps_per_epoch: int) -> Schedule:
    """Build before the optimizer's state is restored: torch's constructors set its lr."""
    cfg = dict(cfg or {"name": "none"})
    name = cfg.pop("name")
    kind = lookup("scheduler", SCHEDULES, name)
    if kind is None:
        return Schedule(None, per_step=False)
    try:
        return Schedule(kind.make(optimizer, **cfg, **kind.sized(steps_per_epoch)), kind.per_step)
    except (TypeError, ValueError, KeyError) as err:  # torch's own checks of the arguments
        raise UserError(f"scheduler={name} with {cfg} is not valid: {err}.") from None


def config(run_cfg: Any) -> dict[str, Any]:
    """A run's scheduler group as plain values (`T_max` follows trainer.max_epochs unless set)."""
    if "scheduler" not in run_cfg:
        return {"name": "none"}
    return OmegaConf.to_container(run_cfg.scheduler, resolve=True)


def check_run(run_cfg: Any) -> None:
    """A run's schedule against its length and its optimizer, before any data is read.
    (trainer.gradient_clip_val and trainer.deterministic: settings.TrainerConfig.)"""
    check(config(run_cfg), run_cfg.optim, run_cfg.trainer.max_epochs)


def check(cfg: dict[str, Any], optimizer_cfg: dict[str, Any], max_epochs: int) -> None:
    """What the schemas cannot say: onecycle's length, and what torch itself refuses."""
    if cfg.get("name") == "onecycle":
        epochs = cfg.get("epochs")
        require(epochs >= max_epochs, "scheduler.epochs", epochs,
                f"an integer >= trainer.max_epochs ({max_epochs}): onecycle cannot step "
                "past its end")
    # Torch checks the rest when the scheduler is built: do that on a stand-in optimizer.
    params = [torch.nn.Parameter(torch.zeros(1))]
    build(cfg, optimizers.build(optimizer_cfg, params), steps_per_epoch=1)


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """The learning rate the next step will use (the first parameter group's)."""
    return float(optimizer.param_groups[0]["lr"])
