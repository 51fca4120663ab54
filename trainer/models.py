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
from lossbench.errors import Misfit, UserError
from lossbench.registry import lookup
from lossbench.schema import Items, Number, fields_of

Width = Annotated[int, Number(low=1, size=True)]


@dataclass
class LinearConfig:
    """configs/model/linear.yaml"""

    name: str = MISSING


@dataclass
class MLPConfig:
    """configs/model/mlp.yaml: one Linear + ReLU per hidden size, at least one."""

    name: str = MISSING
    # [] would make the MLP a linear model under the name mlp: model=linear says so openly.
    hidden_sizes: Annotated[list[int], Items(Number(low=1, size=True), min_len=1)] = MISSING


@dataclass
class CNNConfig:
    """configs/model/cnn.yaml"""

    name: str = MISSING
    channels: Annotated[list[int], Items(Number(low=1, size=True), min_len=2, max_len=2)] = MISSING
    hidden: Width = MISSING


@dataclass
class ToyCNNConfig(CNNConfig):
    """configs/model/toy_cnn.yaml: the same keys as cnn's."""


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
    return mlp(math.prod(input_shape), list(cfg.hidden_sizes), n_outputs)


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


# model=<name> → its builder, which sizes the model from the task, and its config's schema.
MODELS: dict[str, Callable[[DictConfig, Shape, int], nn.Module]] = {
    "linear": linear_model,
    "mlp": mlp_model,
    "cnn": cnn_model,
    "toy_cnn": toy_cnn_model,
}
SCHEMAS: dict[str, type] = {"linear": LinearConfig, "mlp": MLPConfig, "cnn": CNNConfig,
                            "toy_cnn": ToyCNNConfig}


def build(cfg: DictConfig, input_shape: Shape, n_outputs: int) -> nn.Module:
    return lookup("model", MODELS, cfg.name)(cfg, input_shape, n_outputs)


def footprint(cfg: DictConfig, input_shape: Shape, n_outputs: int, batch: int
              ) -> tuple[int, int]:
    """Bytes for the weights (with gradients and two optimizer moments) and for one batch's
    activations (kept for the backward pass), from a copy on the meta device: nothing allocated."""
    outputs: list[int] = []
    with torch.device("meta"):
        model = lookup("model", MODELS, cfg.name)(cfg, input_shape, n_outputs).eval()
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
    except (RuntimeError, OverflowError, ValueError):  # a shape past what torch can describe
        weights = activations = math.inf
    what = f"model={cfg.name} on inputs of shape {tuple(input_shape)}"
    memory.require_fits(weights, f"model.{blame}", plain.get(blame), what, device)
    memory.require_fits(weights + activations, "task.batch_size", batch_size,
                        f"a batch of {batch} samples through {what}", device)


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
