"""Optimizers by the name in `cfg.optim.name`; the other keys are their arguments.

A run's optimizer is a `MemberOptimizer`: its settings and state in torch's own format
(`param_groups`, `state`, `state_dict()`), so torch's LR schedulers drive it and
checkpoints read as torch's SGD, Adam or AdamW wrote them. The update itself is
trainer/engine/optim.py's, which steps a population of one or many runs at once.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

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
    amsgrad: bool = False  # runs recorded before this key read as false (rundir/resume.py)


@dataclass
class AdamWConfig(AdamConfig):
    """configs/optim/adamw.yaml"""


@dataclass
class SGDConfig:
    """configs/optim/sgd.yaml: momentum 1 or more never forgets a gradient and diverges."""

    name: str = MISSING
    lr: Annotated[float, Number(low=0, low_open=True)] = MISSING
    weight_decay: Annotated[float, Number(low=0)] = MISSING
    momentum: Annotated[float, Number(0, 1, high_open=True)] = MISSING
    nesterov: bool = MISSING  # needs momentum > 0, as torch's SGD


# optim=<name> → torch's parameter-group defaults for it (torch 2.x), which the group keeps
# whole so that a checkpoint's optimizer state is the one torch.optim would write.
OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": {"lr": 1e-3, "momentum": 0, "dampening": 0, "weight_decay": 0, "nesterov": False,
            "maximize": False, "foreach": None, "differentiable": False, "fused": None},
    "adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
             "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
             "differentiable": False, "fused": None, "decoupled_weight_decay": False},
    "adamw": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2,
              "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
              "differentiable": False, "fused": None, "decoupled_weight_decay": True},
}
SCHEMAS: dict[str, type] = {"sgd": SGDConfig, "adam": AdamConfig, "adamw": AdamWConfig}


class MemberOptimizer(torch.optim.Optimizer):
    """One run's optimizer settings and state, in torch's format; it does not step itself.

    torch.optim.Optimizer.__init__ is not called: it and the state_dict methods go through
    torch._disable_dynamo, whose first call imports torch._dynamo (1.5 s of a 6 s run).
    Everything an LR scheduler reads (`param_groups`, `defaults`, `step`) is here.
    """

    def __init__(self, name: str, params: Iterable[torch.Tensor], **settings: Any) -> None:
        self.name = name
        self.defaults = dict(OPTIMIZERS[name])
        self.param_groups = [{**self.defaults, **settings, "params": list(params)}]
        self.state: defaultdict[torch.Tensor, dict[str, Any]] = defaultdict(dict)
        for hooks in ("step_pre", "step_post", "state_dict_pre", "state_dict_post",
                      "load_state_dict_pre", "load_state_dict_post"):
            setattr(self, f"_optimizer_{hooks}_hooks", OrderedDict())
        # trainer/engine/optim.py steps it; torch's schedulers would warn that step() never ran.
        self._opt_called = True

    @property
    def params(self) -> list[torch.Tensor]:
        return self.param_groups[0]["params"]

    def step(self, closure: Any = None) -> None:
        """The update is trainer/engine/optim.py's (StackedOptimizer)."""

    def state_dict(self) -> dict[str, Any]:
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group["params"] = list(range(len(self.params)))
        index = {id(p): i for i, p in enumerate(self.params)}
        return {"state": {index[id(p)]: dict(s) for p, s in self.state.items() if s},
                "param_groups": [group]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As torch's: the saved group's values replace the current ones; state tensors take
        their parameter's dtype and device (the step counter stays as saved)."""
        saved = state_dict["param_groups"][0]
        self.param_groups[0].update({k: v for k, v in saved.items() if k != "params"})
        self.state = defaultdict(dict)
        for i, values in state_dict["state"].items():
            p = self.params[int(i)]
            self.state[p] = {k: v if k == "step" or not torch.is_tensor(v)
                             else v.to(device=p.device, dtype=p.dtype)
                             for k, v in values.items()}


def build(cfg: DictConfig, params: Iterable[torch.nn.Parameter]) -> MemberOptimizer:
    lookup("optim", OPTIMIZERS, cfg.name)
    settings = {k: v for k, v in cfg.items() if k != "name"}
    unknown = sorted(set(settings) - set(OPTIMIZERS[cfg.name]))
    if unknown:
        raise UserError(f"optim={cfg.name} with {settings} is not valid: unknown key(s) "
                        f"{', '.join(unknown)}.")
    if settings.get("nesterov") and settings.get("momentum", 0) <= 0:
        # torch's SGD refuses this with a ValueError of its own.
        raise UserError(f"optim={cfg.name} with {settings} is not valid: Nesterov momentum "
                        "requires a momentum and zero dampening.")
    return MemberOptimizer(cfg.name, params, **settings)
