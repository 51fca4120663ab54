"""The models every task × loss pair is trained with: sizes come from the task."""

from __future__ import annotations

import math
from collections.abc import Callable

from omegaconf import DictConfig
from torch import nn

from lossbench.errors import Misfit, is_int, require
from lossbench.registry import lookup


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
    sizes = list(cfg.hidden_sizes)
    require(all(is_int(s) and s >= 1 for s in sizes), "model.hidden_sizes", sizes,
            "a list of integers >= 1")
    return mlp(math.prod(input_shape), sizes, n_outputs)


def cnn_model(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    if len(input_shape) != 3 or min(input_shape[1:]) < 6:
        raise Misfit(
            f"model=cnn needs image input, but the task gives inputs of shape {input_shape}; "
            "use model=linear or model=mlp."
        )
    return cnn(input_shape, list(cfg.channels), cfg.hidden, n_outputs)


# model=<name> → its builder, which checks the group's values and sizes the model from the task.
MODELS: dict[str, Callable[[DictConfig, Shape, int], nn.Module]] = {
    "linear": linear_model,
    "mlp": mlp_model,
    "cnn": cnn_model,
}


def build(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    return lookup("model", MODELS, cfg.name)(cfg, input_shape, n_outputs)
