"""The models every task × loss pair is trained with: sizes come from the task."""

from __future__ import annotations

import math
from collections.abc import Callable

from omegaconf import DictConfig
from torch import nn

from lossbench.errors import Misfit, UserError, is_int, require
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


def toy_cnn(input_shape: tuple[int, ...], channels: list[int], hidden: int, n_out: int
            ) -> nn.Sequential:
    """APL's MNIST network (Ma et al. 2020): two blocks of 3×3 conv ("same" padding),
    batch norm, ReLU and 2×2 max-pool, then linear, batch norm, ReLU and the classes.

    Each pool halves the sides (rounding down): 28 → 14 → 7, and digits' 8 → 4 → 2.
    Convolutions start Kaiming-uniform and linear layers Xavier-uniform, as in APL's code.
    """
    c, h, w = input_shape
    c1, c2 = channels
    model = nn.Sequential(
        nn.Conv2d(c, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * (h // 4) * (w // 4), hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
        nn.Linear(hidden, n_out),
    )
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_uniform_(layer.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
    return model


Shape = tuple[int, ...]


def linear_model(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    return mlp(math.prod(input_shape), [], n_outputs)


def mlp_model(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    sizes = list(cfg.hidden_sizes)
    require(all(is_int(s) and s >= 1 for s in sizes), "model.hidden_sizes", sizes,
            "a list of integers >= 1")
    return mlp(math.prod(input_shape), sizes, n_outputs)


def cnn_model(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    _require_image("cnn", input_shape, smallest=6)
    return cnn(input_shape, list(cfg.channels), cfg.hidden, n_outputs)


def toy_cnn_model(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    _require_image("toy_cnn", input_shape, smallest=4)  # two pools still leave one pixel
    return toy_cnn(input_shape, list(cfg.channels), cfg.hidden, n_outputs)


def _require_image(name: str, input_shape: Shape, smallest: int) -> None:
    if len(input_shape) != 3 or min(input_shape[1:]) < smallest:
        raise Misfit(
            f"model={name} needs image input of at least {smallest}×{smallest}, but the task "
            f"gives inputs of shape {input_shape}; use model=linear or model=mlp."
        )


# model=<name> → its builder, which checks the group's values and sizes the model from the task.
MODELS: dict[str, Callable[[DictConfig, Shape, int], nn.Module]] = {
    "linear": linear_model,
    "mlp": mlp_model,
    "cnn": cnn_model,
    "toy_cnn": toy_cnn_model,
}


def build(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    return lookup("model", MODELS, cfg.name)(cfg, input_shape, n_outputs)


def check_batches(model: nn.Module, n_train: int, batch_size: int, limit: int | None) -> None:
    """Batch norm cannot train on a batch of one sample: refuse a split that ends with one."""
    n_batches = math.ceil(n_train / batch_size)
    trains_last = limit is None or limit >= n_batches
    has_batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if has_batch_norm and trains_last and n_train % batch_size == 1:
        raise UserError(
            f"task.batch_size={batch_size} leaves a last batch of 1 of the {n_train} training "
            "samples, and batch norm cannot train on one sample; choose another batch size."
        )
