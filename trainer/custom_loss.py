"""loss=custom loss.target=module:Class: a loss tried without packaging it.

The class, from a module importable from the working directory (or sys.path), is checked
as a plugin's loss is (trainer/plugins.py) and stored as the option loss=custom before
Hydra composes, so its annotated parameters (`loss.eps=2.0`) are typed and refused in one
line as every loss's are. One target per command: loss=custom's schema is its class's.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from typing import Annotated

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from lossbench.errors import UserError
from lossbench.schema import Text, extended
from trainer import plugins

OPTION = "loss=custom"


@dataclasses.dataclass
class CustomTarget:
    """loss=custom's own key, beside its class's parameters."""

    target: Annotated[str, Text("module:Class, a Loss subclass")] = MISSING


def install(args: list[str]) -> None:
    """Store loss=custom for the class `args` (the command line) name; nothing without
    `loss=custom` among them."""
    if OPTION not in args:
        return
    from trainer import losses

    target = next((a.split("=", 1)[1] for a in args if a.startswith("loss.target=")), None)
    where = f"loss.target={target!r} is not valid"
    if target is None or ":" not in target:
        raise UserError(f"loss=custom needs loss.target=module:Class (a lossbench.Loss subclass "
                        f"in a module importable from the working directory), not {target!r}.")
    module, _, attribute = target.partition(":")
    if os.getcwd() not in sys.path:  # `python train.py` puts train.py's folder there, not cwd
        sys.path.insert(0, os.getcwd())
    try:
        found = importlib.import_module(module)
    except Exception as err:  # any error of the user's module, in one line
        first = (str(err).splitlines() or [""])[0]
        raise UserError(f"{where}: module {module} cannot be imported ({type(err).__name__}: "
                        f"{first}).") from None
    if not hasattr(found, attribute):
        raise UserError(f"{where}: module {module} ({found.__file__}) has no {attribute}.")
    keys = plugins.checked_loss(getattr(found, attribute), where)
    losses.LOSSES["custom"] = getattr(found, attribute)
    losses.schema.cache_clear()  # "custom" may have named another class in this process
    schema = extended(losses.schema("custom"), CustomTarget)
    plugins.store_option(ConfigStore.instance(), "loss", "custom", schema,
                         {"target": target, **{k: d for k, _, d in keys}})
