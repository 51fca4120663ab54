"""Every loss, named once in LOSSES, with the target kinds it accepts.

Each loss is a `Loss` subclass (base.py) that adapts raw model scores and
targets per kind before its criterion sees them; classification.py and
regression.py hold them, normalized.py the APL family. A loss config is its
`name` plus the keyword arguments of its class, so the config and the class
list the same parameters, and the class's signature is the config's schema:
each argument's annotation says its type and allowed values (`schema`).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from typing import Any

from omegaconf import MISSING

from lossbench.contract import Kind
from lossbench.errors import UserError
from lossbench.registry import lookup as registry_lookup
from lossbench.schema import fields_of, problem
from trainer.losses import classification, normalized, regression
from trainer.losses.base import DISTANCE, Adapter, Loss

__all__ = ["DISTANCE", "LOSSES", "Adapter", "Loss", "accepts", "build", "check", "lookup",
           "parameters", "schema", "valid_for"]

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


@functools.cache
def schema(name: str) -> type:
    """The config schema of a loss, read from its class: `name` and each keyword argument,
    with the type and allowed values its annotation declares (values come from the YAML)."""
    init = lookup(name).__init__
    hints = typing.get_type_hints(init, include_extras=True)
    keys = [("name", str, MISSING), *((p, hints[p], MISSING) for p in parameters(name))]
    return dataclasses.make_dataclass(f"{lookup(name).__name__}Config", keys)


def build(cfg: dict, kind: Kind) -> Loss:
    """`cfg` is the loss config: its `name` and the criterion's parameters."""
    check(cfg)
    return lookup(cfg["name"])(kind, **{k: v for k, v in cfg.items() if k not in _own(cfg)})


def _own(cfg: dict) -> tuple[str, ...]:
    """The config's keys that are not the class's parameters: loss=custom's `target` names
    its class (trainer/plugins.py)."""
    return ("name", "target") if cfg["name"] == "custom" else ("name",)


def check(cfg: dict) -> None:
    """Every parameter of a loss config given as a plain dict, against the loss's schema.

    A composed config is checked with all the others (trainer.schemas); this is
    for losses built from Python.
    """
    name = cfg["name"]
    known = fields_of(schema(name))
    for key, value in cfg.items():
        if key not in known and key in _own(cfg):
            continue
        if key not in known:
            params = [k for k in known if k != "name"]
            raise UserError(f"loss.{key} is not a parameter of loss={name}; its parameters: "
                            f"{', '.join(params) or 'none'}.")
        if (allowed := problem(known[key], value)) is not None:
            raise UserError(f"loss.{key}={value!r} is not valid: {allowed}.")
