"""What the training engine takes from the config, in one place (defaults: configs/trainer/)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Any

import torch
from omegaconf import MISSING

from lossbench.schema import Number, OneOf
from trainer import schedulers

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("32", "bf16", "16")
AtLeastOne = Annotated[int, Number(low=1)]


@dataclass
class TrainerConfig:
    """The schema of configs/trainer/default.yaml: how the one loop trains, whatever the pair."""

    max_epochs: AtLeastOne = MISSING
    device: Annotated[str, OneOf(DEVICES, pattern=r"cuda:\d+", hint="cuda:N")] = MISSING
    log_every_n_steps: AtLeastOne = MISSING
    limit_train_batches: AtLeastOne | None = MISSING
    progress_bar: bool = MISSING
    resume: bool = MISSING
    precision: Annotated[str, OneOf(PRECISIONS)] = MISSING
    compile: bool = MISSING
    diagnostics: bool = MISSING
    # Clip the global gradient norm to this before each step; null leaves gradients alone.
    gradient_clip_val: Annotated[float, Number(low=0, low_open=True)] | None = MISSING
    deterministic: bool = MISSING


@dataclass(frozen=True)
class Settings:
    """The trainer group's values (configs/trainer/default.yaml) plus the batch size and seed."""

    max_epochs: int
    batch_size: int
    seed: int
    log_every_n_steps: int
    limit_train_batches: int | None  # batches per epoch, for smoke runs; None: all of them
    progress_bar: bool
    precision: str  # "32", "bf16" or "16" (autocast; 16 adds a gradient scaler)
    compile: bool
    diagnostics: bool  # output-gradient scalars at logged steps
    gradient_clip_val: float | None = None  # global gradient-norm bound; None: no clipping
    deterministic: bool = False  # torch's deterministic algorithms (trainer/determinism.py)
    scheduler: dict | None = None  # the scheduler group's values (trainer/schedulers.py)

    @classmethod
    def from_config(cls, cfg: Any) -> Settings:
        """From a composed config: `cfg.trainer`, `cfg.task.batch_size` and `cfg.seed`."""
        own = {f.name for f in dataclasses.fields(cls)} - {"batch_size", "seed", "precision",
                                                           "scheduler"}
        return cls(batch_size=cfg.task.batch_size, seed=cfg.seed,
                   precision=str(cfg.trainer.precision),  # YAML reads 32 and 16 as ints
                   scheduler=schedulers.config(cfg),
                   **{name: cfg.trainer[name] for name in own})

    def autocast(self, device: torch.device) -> torch.autocast:
        dtype = {"bf16": torch.bfloat16, "16": torch.float16}.get(self.precision)
        return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
