"""The models every task × loss pair is trained with: sizes come from the task."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import torch
from omegaconf import MISSING, DictConfig, OmegaConf
from torch import nn

from lossbench import memory
from lossbench.errors import Misfit
from lossbench.registry import lookup
from lossbench.schema import Items, Number, fields_of

Width = Annotated[int, Number(low=1, size=True)]


@dataclass
class LinearConfig:
    """configs/model/linear.yaml"""

    name: str = MISSING


@dataclass
class MLPConfig:
    """configs/model/mlp.yaml: one Linear + ReLU per hidden size; none is a linear model."""

    name: str = MISSING
    hidden_sizes: Annotated[list[int], Items(Number(low=1, size=True))] = MISSING


@dataclass
class CNNConfig:
    """configs/model/cnn.yaml"""

    name: str = MISSING
    channels: Annotated[list[int], Items(Number(low=1, size=True), min_len=2, max_len=2)] = MISSING
    hidden: Width = MISSING


def mlp(n_in: int, hidden_sizes: list[int], n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for width in hidden_sizes:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    return nn.Sequential(*layers, nn.Linear(n_in, n_out))


def cnn(
    input_shape: tuple[int, ...], channels: list[int], hidden: int, n_out: int
) -> nn.Sequential:
    """Two 3×3 convolutions and a 2×2 max-pool, as in pytorch/examples' MNIST net."""
    c, h, w = input_shape
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(c, c1, 3), nn.ReLU(),
        nn.Conv2d(c1, c2, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(c2 * ((h - 4) // 2) * ((w - 4) // 2), hidden), nn.ReLU(),
        nn.Linear(hidden, n_out),
    )


Shape = tuple[int, ...]


def linear_model(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    return mlp(math.prod(input_shape), [], n_outputs)


def mlp_model(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    return mlp(math.prod(input_shape), list(cfg.hidden_sizes), n_outputs)


def cnn_model(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    if len(input_shape) != 3 or min(input_shape[1:]) < 6:
        raise Misfit(
            f"model=cnn needs image input, but the task gives inputs of shape {input_shape}; "
            "use model=linear or model=mlp."
        )
    return cnn(input_shape, list(cfg.channels), cfg.hidden, n_outputs)


# model=<name> → its builder, which sizes the model from the task, and its config's schema.
MODELS: dict[str, Callable[[DictConfig, Shape, int], nn.Module]] = {
    "linear": linear_model,
    "mlp": mlp_model,
    "cnn": cnn_model,
}
SCHEMAS: dict[str, type] = {"linear": LinearConfig, "mlp": MLPConfig, "cnn": CNNConfig}


def build(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    return lookup("model", MODELS, cfg.name)(cfg, input_shape, n_outputs)


def footprint(cfg: DictConfig, input_shape: Shape, n_outputs: int, batch: int
              ) -> tuple[int, int]:
    """Bytes for the weights (with gradients and two optimizer moments) and for one batch's
    activations (kept for the backward pass), from a copy on the meta device: nothing allocated."""
    outputs: list[int] = []
    with torch.device("meta"):
        model = lookup("model", MODELS, cfg.name)(cfg, input_shape, n_outputs)
        for module in model.modules():
            if not list(module.children()):
                module.register_forward_hook(lambda m, i, out: outputs.append(out.numel()))
        model(torch.empty(batch, *input_shape))
    weights = sum(p.numel() for p in model.parameters())
    return 4 * 4 * weights, 4 * 2 * sum(outputs)


def check_fits(cfg: DictConfig, input_shape: Shape, n_outputs: int, batch_size: int,
               n_train: int, device: torch.device | None = None) -> None:
    """Refuse a model, or a batch through it, that the device's memory could never hold."""
    plain = OmegaConf.to_container(cfg)
    sizes = {k: plain[k] for k in fields_of(SCHEMAS[cfg.name]) if k != "name"}
    # The key to blame: the biggest size the user gave (a 10^11 among 64s stands out).
    blame = max(sizes, key=lambda k: max(sizes[k], default=0) if isinstance(sizes[k], list)
                else sizes[k], default="name")
    batch = min(batch_size, n_train)  # the loop never takes more than the data holds
    try:
        weights, activations = footprint(cfg, input_shape, n_outputs, batch)
    except (RuntimeError, OverflowError):  # a shape past what torch can even describe
        weights = activations = math.inf
    what = f"model={cfg.name} on inputs of shape {tuple(input_shape)}"
    memory.require_fits(weights, f"model.{blame}", plain.get(blame), what, device)
    memory.require_fits(weights + activations, "task.batch_size", batch_size,
                        f"a batch of {batch} samples through {what}", device)
