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
    with torch.device("meta"):
        model = lookup("model", MODELS, cfg.name)(cfg, input_shape, n_outputs).eval()
        outputs = output_sizes(model, (batch, *input_shape))
        if outputs is None:  # a layer shape_after does not know: torch's meta kernels
            outputs = []
            for module in model.modules():
                if not list(module.children()):
                    module.register_forward_hook(lambda m, i, out: outputs.append(out.numel()))
            model(torch.empty(batch, *input_shape))
    weights = sum(p.numel() for p in model.parameters())
    return 4 * 4 * weights, 4 * 2 * sum(outputs)


def output_sizes(model: nn.Module, shape: Shape) -> list[int] | None:
    """How many numbers each layer of an nn.Sequential outputs, from shapes alone; None for
    a layer not known here. No forward pass: torch's meta kernels for a Linear with bias and
    for batch norm import torch._dynamo, 1.5 s of a short run."""
    if not isinstance(model, nn.Sequential):
        return None
    sizes = []
    for layer in model:
        shape = shape_after(layer, shape)
        if shape is None:
            return None
        sizes.append(math.prod(shape))
    return sizes


def shape_after(layer: nn.Module, shape: Shape) -> Shape | None:
    if isinstance(layer, nn.Linear):
        return (*shape[:-1], layer.out_features)
    if isinstance(layer, nn.Flatten):
        end = layer.end_dim % len(shape)
        return (*shape[:layer.start_dim], math.prod(shape[layer.start_dim:end + 1]),
                *shape[end + 1:])
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)) and len(shape) == 4:
        conv = isinstance(layer, nn.Conv2d)
        if conv and isinstance(layer.padding, str):
            return None
        pair = nn.modules.utils._pair
        kernel, stride = pair(layer.kernel_size), pair(layer.stride or layer.kernel_size)
        padding, dilation = pair(layer.padding), pair(layer.dilation)
        round_ = math.ceil if not conv and layer.ceil_mode else math.floor
        sides = [round_((n + 2 * p - d * (k - 1) - 1) / s) + 1 for n, p, d, k, s in
                 zip(shape[2:], padding, dilation, kernel, stride, strict=True)]
        return (shape[0], layer.out_channels if conv else shape[1], *sides)
    if isinstance(layer, (nn.modules.batchnorm._BatchNorm, nn.ReLU, nn.LeakyReLU, nn.Tanh,
                          nn.Sigmoid, nn.GELU, nn.SiLU, nn.ELU, nn.Identity, nn.Dropout)):
        return shape
    return None


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
