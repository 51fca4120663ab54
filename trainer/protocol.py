"""The training protocol's settings beyond the loop's basics: schedule, clipping, determinism.

The noisy-label literature (GCE, SCE, APL) trains with a learning-rate
schedule, gradient-norm clipping and fixed seeds; these are checked here,
before any data is read, so a bad value is one line and never a crash later.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainer import schedulers


def check(cfg: DictConfig) -> None:
    """What the schemas cannot say: the schedule against the run's length and the optimizer.
    (trainer.gradient_clip_val and trainer.deterministic: settings.TrainerConfig.)"""
    schedulers.check(scheduler_config(cfg), cfg.optim, cfg.trainer.max_epochs)


def scheduler_config(cfg: DictConfig) -> dict[str, Any]:
    """The scheduler group as plain values (`T_max` follows trainer.max_epochs unless set)."""
    if "scheduler" not in cfg:
        return {"name": "none"}
    return OmegaConf.to_container(cfg.scheduler, resolve=True)
