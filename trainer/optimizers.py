"""Optimizers by the name in `cfg.optim.name`; the other keys are their arguments."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from omegaconf import DictConfig

from lossbench.errors import UserError
from lossbench.registry import lookup

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}


def build(cfg: DictConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    optimizer = lookup("optim", OPTIMIZERS, cfg.name)
    kwargs = {k: v for k, v in cfg.items() if k != "name"}
    try:
        return optimizer(params, **kwargs)
    except (TypeError, ValueError) as err:  # torch's own check of an argument's value or name
        raise UserError(f"optim={cfg.name} with {kwargs} is not valid: {err}.") from None
