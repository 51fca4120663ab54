"""M copies of one nn.Sequential as one model: each parameter stacked along a member axis.

A Linear layer becomes one batched matrix product (`baddbmm`) over the members, a Conv2d
one grouped convolution over the members' channels, and parameter-free layers (ReLU,
max-pool, flatten) act as they are. Measured on the 2-core CPU, this ran the population's
steps 1.4-3× faster than `torch.func.vmap` over `functional_call` (docs/benchmarks.md),
and it computes what each member's own model computes: the same products, one member
per batch entry or channel group.

Activations travel in one of two layouts: "members" (M, B, ...) for dense layers and
"channels" (B, M·C, H, W) for convolutions, where member m owns channels m·C to m·C + C − 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.ELU,
               nn.Identity)
IMAGE_LAYERS = (nn.Conv2d, nn.MaxPool2d)


def unsupported(model: nn.Module) -> str | None:
    """Why this model cannot be stacked, or None when it can."""
    if not isinstance(model, nn.Sequential):
        return f"its model is a {type(model).__name__}, not an nn.Sequential of plain layers"
    images = False  # whether activations are images (after a conv, before a flatten)
    for layer in model:
        if isinstance(layer, nn.Flatten):
            if (layer.start_dim, layer.end_dim) != (1, -1):
                return "its model flattens other than from dim 1 to the end"
            images = False
        elif isinstance(layer, nn.Linear):
            if images:
                return "its model applies a Linear layer to images without a Flatten"
        elif isinstance(layer, nn.Conv2d):
            if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
                return "its model has a Conv2d with padding other than zeros by number"
            images = True
        elif isinstance(layer, nn.MaxPool2d):
            images = True
        elif not isinstance(layer, ELEMENTWISE):
            return f"its model has a {type(layer).__name__} layer"
    if any(True for _ in model.buffers()):
        return "its model keeps buffers, which population training does not stack"
    return None


@dataclass
class Cost:
    """What one member adds to a population, read from one sample's forward pass."""

    macs: int  # multiply-accumulates per sample
    activations: int  # numbers every layer outputs per sample
    parameters: int

    def bytes(self, batch_size: int) -> int:
        """Training memory per member, roughly: parameters with gradient and two optimizer
        states, the activations autograd keeps for a batch and their gradients, in float32."""
        return 4 * (4 * self.parameters + 3 * batch_size * self.activations)


def cost(model: nn.Sequential, input_shape: tuple[int, ...]) -> Cost:
    macs = activations = 0
    device = next(model.parameters()).device
    with torch.no_grad():
        x = torch.zeros(1, *input_shape, device=device)
        for layer in model:
            y = layer(x)
            if isinstance(layer, nn.Linear):
                macs += layer.in_features * layer.out_features
            elif isinstance(layer, nn.Conv2d):
                c_in = layer.in_channels // layer.groups
                macs += y[0].numel() * c_in * layer.kernel_size[0] * layer.kernel_size[1]
            activations += y[0].numel()
            x = y
    return Cost(macs, activations, sum(p.numel() for p in model.parameters()))


class StackedModel:
    """The members' parameters as leaf tensors of shape (M, *shape), and their forward pass."""

    def __init__(self, models: list[nn.Sequential]) -> None:
        reason = unsupported(models[0])
        assert reason is None, reason
        self.layers = list(models[0])  # read for their settings; their tensors are not used
        self.names = [name for name, _ in models[0].named_parameters()]
        self.params = [torch.stack([m.get_parameter(n).detach() for m in models]).requires_grad_()
                       for n in self.names]
        # layer index → its (weight, bias) position in self.params
        self._where = {int(n.split(".")[0]): i for i, n in enumerate(self.names)
                       if n.endswith(".weight")}

    @property
    def size(self) -> int:
        return self.params[0].shape[0]

    def keep(self, index: torch.Tensor) -> None:
        """Only the members at `index` go on (the others diverged)."""
        self.params = [p.detach()[index].requires_grad_() for p in self.params]

    def member_state(self, m: int) -> dict[str, torch.Tensor]:
        return {n: p.detach()[m] for n, p in zip(self.names, self.params, strict=True)}

    def finite(self) -> torch.Tensor:
        """(M,) bool: whether every parameter of each member is finite."""
        flags = [p.detach().flatten(1).isfinite().all(dim=1) for p in self.params]
        return torch.stack(flags).all(dim=0)

    def __call__(self, x: torch.Tensor, shared: bool = False) -> torch.Tensor:
        """x: (M, B, *input) with each member's own batch, or (B, *input) shared by all
        members (`shared=True`, for the test set). Returns (M, B, *output)."""
        m = self.size
        layout = "shared" if shared else "members"
        for i, layer in enumerate(self.layers):
            if isinstance(layer, nn.Linear):
                w, b = self._weights(i)
                if layout == "shared":  # one product for all members: (B, in) @ (in, M·out)
                    y = x @ w.permute(2, 0, 1).reshape(w.shape[2], -1)
                    x = y.view(len(x), m, -1).transpose(0, 1)
                    x = x + b.unsqueeze(1) if b is not None else x
                elif b is not None:
                    x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
                else:
                    x = torch.bmm(x, w.transpose(1, 2))
                layout = "members"
            elif isinstance(layer, nn.Conv2d):
                w, b = self._weights(i)
                groups = layer.groups
                if layout == "members":
                    x, layout = _to_channels(x), "channels"
                if layout == "channels":
                    groups *= m
                x = F.conv2d(x, w.flatten(0, 1), None if b is None else b.flatten(),
                             layer.stride, layer.padding, layer.dilation, groups)
                layout = "channels"
            elif isinstance(layer, nn.MaxPool2d):
                if layout == "members":
                    x, layout = _to_channels(x), "channels"
                x = layer(x)
            elif isinstance(layer, nn.Flatten):
                if layout == "channels":
                    x, layout = x.reshape(len(x), m, -1).transpose(0, 1), "members"
                else:
                    x = x.flatten(2 if layout == "members" else 1)
            else:
                x = layer(x)
        if layout == "channels":
            x = x.reshape(len(x), m, -1, *x.shape[2:]).transpose(0, 1)
        elif layout == "shared":
            x = x.expand(m, *x.shape)
        return x

    def _weights(self, layer: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        i = self._where[layer]
        has_bias = i + 1 < len(self.names) and self.names[i + 1] == f"{layer}.bias"
        return self.params[i], self.params[i + 1] if has_bias else None


def _to_channels(x: torch.Tensor) -> torch.Tensor:
    """(M, B, C, H, W) → (B, M·C, H, W)."""
    return x.transpose(0, 1).flatten(1, 2)

