"""The training protocol's settings beyond the loop's basics: schedule, clipping, determinism.

The noisy-label literature (GCE, SCE, APL) trains with a learning-rate
schedule, gradient-norm clipping and fixed seeds; these are checked here,
before any data is read, so a bad value is one line and never a crash later.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.errors import is_number, require
from trainer import schedulers


def check(cfg: DictConfig) -> None:
    clip = cfg.trainer.gradient_clip_val
    require(clip is None or (is_number(clip) and 0 < clip < float("inf")),
            "trainer.gradient_clip_val", clip, "null or a number > 0")
    require(isinstance(cfg.trainer.deterministic, bool), "trainer.deterministic",
            cfg.trainer.deterministic, "true or false")
    schedulers.check(scheduler_config(cfg), cfg.optim, cfg.trainer.max_epochs)


def scheduler_config(cfg: DictConfig) -> dict[str, Any]:
    """The scheduler group as plain values (`T_max` follows trainer.max_epochs unless set)."""
    if "scheduler" not in cfg:
        return {"name": "none"}
    return OmegaConf.to_container(cfg.scheduler, resolve=True)
