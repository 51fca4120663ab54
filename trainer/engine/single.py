"""Any nn.Module as a population of one: the engine's model for a single run.

The engine speaks in member-stacked tensors, (M, B, ...) activations and (M, *shape)
parameters; for one run these are the module's own outputs and parameters viewed with a
leading axis of 1. Nothing is copied: the optimizer's in-place update of the view is the
module's own parameter's, so the module is what a checkpoint saves and what a test reads.
"""

from __future__ import annotations

import torch
from torch import nn


class Single:
    """The engine's model interface (as engine/stacked.StackedModel's) for one nn.Module."""

    size = 1

    def __init__(self, module: nn.Module, compile: bool = False) -> None:
        self.module = module
        self.forward = torch.compile(module) if compile else module  # state keeps module's names
        self.params = [p.unsqueeze(0) for p in module.parameters()]  # views, for the update

    def leaves(self) -> list[torch.Tensor]:
        return list(self.module.parameters())

    def grads(self) -> list[torch.Tensor | None]:
        return [None if p.grad is None else p.grad.unsqueeze(0) for p in self.module.parameters()]

    def train(self, mode: bool = True) -> None:
        self.module.train(mode)

    def keep(self, index: torch.Tensor) -> None:
        """A population of one only ever ends."""

    def member_state(self, m: int) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.module.state_dict().items()}

    def finite(self) -> torch.Tensor:
        return torch.stack([torch.isfinite(p).all() for p in self.module.parameters()]
                           ).all().reshape(1)

    def __call__(self, x: torch.Tensor, shared: bool = False) -> torch.Tensor:
        """x: (1, B, *input), or (B, *input) with `shared`; returns (1, B, *output)."""
        return self.forward(x if shared else x[0]).unsqueeze(0)
