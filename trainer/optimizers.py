"""Optimizers by the name in `cfg.optim.name`; the other keys are their arguments."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

import torch
from omegaconf import MISSING, DictConfig

from lossbench.errors import UserError
from lossbench.registry import lookup
from lossbench.schema import Number


@dataclass
class AdamConfig:
    """configs/optim/adam.yaml; the other keys are the torch optimizer's keyword arguments."""

    name: str = MISSING
    lr: Annotated[float, Number(low=0, low_open=True)] = MISSING
    weight_decay: Annotated[float, Number(low=0)] = MISSING


@dataclass
class AdamWConfig(AdamConfig):
    """configs/optim/adamw.yaml"""


@dataclass
class SGDConfig(AdamConfig):
    """configs/optim/sgd.yaml: momentum 1 or more never forgets a gradient and diverges."""

    momentum: Annotated[float, Number(0, 1, high_open=True)] = MISSING
    nesterov: bool = MISSING  # needs momentum > 0: torch refuses it otherwise


OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}
SCHEMAS: dict[str, type] = {"sgd": SGDConfig, "adam": AdamConfig, "adamw": AdamWConfig}


def build(cfg: DictConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    optimizer = lookup("optim", OPTIMIZERS, cfg.name)
    kwargs = {k: v for k, v in cfg.items() if k != "name"}
    try:
        return optimizer(params, **kwargs)
    except (TypeError, ValueError) as err:  # torch's own check of an argument's value or name
        raise UserError(f"optim={cfg.name} with {kwargs} is not valid: {err}.") from None
