"""Every loss, named once in LOSSES, with the target kinds it accepts.

Each loss is a `Loss` subclass (base.py) that adapts raw model scores and
targets per kind before its criterion sees them; classification.py and
regression.py hold them, normalized.py the APL family. A loss config is its
`name` plus the keyword arguments of its class, so the config and the class
list the same parameters.
"""

from __future__ import annotations

import inspect
from typing import Any

from lossbench.contract import Kind
from lossbench.errors import UserError
from lossbench.registry import lookup as registry_lookup
from trainer.losses import classification, normalized, regression
from trainer.losses.base import DISTANCE, Adapter, Loss

__all__ = ["DISTANCE", "LOSSES", "Adapter", "Loss", "accepts", "build", "check", "lookup",
           "parameters", "valid_for"]

LOSSES: dict[str, type[Loss]] = {
    "ce": classification.CrossEntropy,
    "nll": classification.NLL,
    "focal": classification.Focal,
    "mae": classification.MAE,
    "gce": classification.GCE,
    "sce": classification.SCE,
    "nce": normalized.NCE,
    "rce": normalized.RCE,
    "nfl": normalized.NFL,
    "nce_rce": normalized.NCEandRCE,
    "nce_mae": normalized.NCEandMAE,
    "nfl_rce": normalized.NFLandRCE,
    "multi_margin": classification.MultiMargin,
    "bce": classification.BCE,
    "bce_logits": classification.BCEWithLogits,
    "hinge": classification.Hinge,
    "soft_margin": classification.SoftMargin,
    "l1": regression.L1,
    "mse": regression.MSE,
    "smoothl1": regression.SmoothL1,
    "huber": regression.Huber,
    "logcosh": regression.LogCosh,
    "quantile": regression.Quantile,
    "barron": regression.Barron,
}


def valid_for(kind: Kind) -> list[str]:
    return sorted(name for name, cls in LOSSES.items() if kind in cls.adapters)


def accepts(name: str, kind: Kind) -> bool:
    return kind in lookup(name).adapters


def lookup(name: str) -> type[Loss]:
    return registry_lookup("loss", LOSSES, name)


def parameters(name: str) -> dict[str, Any]:
    """The loss's parameters and their defaults, read from its class."""
    signature = inspect.signature(lookup(name).__init__)
    return {p.name: p.default for p in signature.parameters.values()
            if p.name not in ("self", "kind")}


def build(cfg: dict, kind: Kind) -> Loss:
    """`cfg` is the loss config: its `name` and the criterion's parameters."""
    name = cfg["name"]
    params = {k: v for k, v in cfg.items() if k != "name"}
    known = parameters(name)
    if unknown := sorted(set(params) - set(known)):
        raise UserError(f"loss.{unknown[0]} is not a parameter of loss={name}; its parameters: "
                        f"{', '.join(known) or 'none'}.")
    return lookup(name)(kind, **params)


def check(cfg: dict) -> None:
    """Every parameter of the loss config, before any data is read."""
    build(cfg, next(iter(lookup(cfg["name"]).adapters)))
