"""A residual MLP: the input projected to `width`, then `depth` blocks x + f(x)."""

from __future__ import annotations

import math
from typing import Annotated

import torch
from torch import nn

from lossbench import Number


class ResidualMLP(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], n_outputs: int,
                 width: Annotated[int, Number(low=1, size=True)] = 64,
                 depth: Annotated[int, Number(low=0)] = 2) -> None:
        super().__init__()
        self.embed = nn.Linear(math.prod(input_shape), width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.ReLU())
            for _ in range(depth))
        self.head = nn.Linear(width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x.flatten(1))
        for block in self.blocks:
            h = h + block(h)
        return self.head(h)
