"""M copies of one nn.Sequential as one model: each parameter stacked along a member axis.

A Linear layer becomes one batched matrix product (`baddbmm`) over the members, a Conv2d
one grouped convolution over the members' channels, batch norm one batch norm over the
members' channels (each member's running statistics are its own slice), and
parameter-free layers (ReLU, max-pool, flatten) act as they are. Measured on the 2-core
CPU, this ran the population's steps 1.4-3× faster than `torch.func.vmap` over
`functional_call` (docs/benchmarks.md), and it computes what each member's own model
computes: the same products, one member per batch entry or channel group.

Activations travel in one of two layouts: "members" (M, B, ...) for dense layers and
"channels" (B, M·C, H, W) for convolutions, where member m owns channels m·C to m·C + C − 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
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
        elif isinstance(layer, BATCH_NORMS):
            if not (layer.affine and layer.track_running_stats):
                return "its model has a batch norm without affine weights or running statistics"
            if images != isinstance(layer, nn.BatchNorm2d):
                return f"its model applies {type(layer).__name__} to the wrong kind of input"
        elif not isinstance(layer, ELEMENTWISE):
            return f"its model has a {type(layer).__name__} layer"
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
    was_training = model.training
    model.eval()  # batch norm on one sample, without touching its running statistics
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
    model.train(was_training)
    return Cost(macs, activations, sum(p.numel() for p in model.parameters()))


class StackedModel:
    """The members' parameters as leaf tensors of shape (M, *shape), their buffers (batch
    norm's running statistics) likewise, and their forward pass."""

    def __init__(self, models: list[nn.Sequential]) -> None:
        reason = unsupported(models[0])
        assert reason is None, reason
        self.layers = list(models[0])  # read for their settings; their tensors are not used
        self.keys = list(models[0].state_dict())  # a member's state_dict, in torch's order
        self.names = [name for name, _ in models[0].named_parameters()]
        self.params = [torch.stack([m.get_parameter(n).detach() for m in models]).requires_grad_()
                       for n in self.names]
        self.buffer_names = [name for name, _ in models[0].named_buffers()]
        self.buffers = [torch.stack([m.get_buffer(n) for m in models])
                        for n in self.buffer_names]
        self.training = True

    @property
    def size(self) -> int:
        return self.params[0].shape[0]

    def leaves(self) -> list[torch.Tensor]:
        """The tensors autograd fills `.grad` of."""
        return self.params

    def grads(self) -> list[torch.Tensor | None]:
        return [p.grad for p in self.params]

    def train(self, mode: bool = True) -> None:
        self.training = mode

    def keep(self, index: torch.Tensor) -> None:
        """Only the members at `index` go on (the others left)."""
        self.params = [p.detach()[index].requires_grad_() for p in self.params]
        self.buffers = [b[index] for b in self.buffers]

    def member_state(self, m: int) -> dict[str, torch.Tensor]:
        """Member m's state_dict, as its own nn.Module would give it (copies)."""
        tensors = dict(zip(self.names, self.params, strict=True))
        tensors.update(zip(self.buffer_names, self.buffers, strict=True))
        return {k: tensors[k].detach()[m].clone() for k in self.keys}

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
                w, b = self._get(i, "weight"), self._get(i, "bias")
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
                w, b = self._get(i, "weight"), self._get(i, "bias")
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
            elif isinstance(layer, BATCH_NORMS):
                if layout == "shared":
                    x, layout = x.expand(m, *x.shape), "members"
                if layout == "members" and isinstance(layer, nn.BatchNorm2d):
                    x, layout = _to_channels(x), "channels"
                x = self._batch_norm(i, layer, x, layout)
            else:
                x = layer(x)
        if layout == "channels":
            x = x.reshape(len(x), m, -1, *x.shape[2:]).transpose(0, 1)
        elif layout == "shared":
            x = x.expand(m, *x.shape)
        return x

    def _batch_norm(self, i: int, layer: nn.Module, x: torch.Tensor, layout: str
                    ) -> torch.Tensor:
        """torch's batch norm over the M·C channels: member m's statistics are its own."""
        count = self._get(i, "num_batches_tracked")
        momentum = layer.momentum
        if self.training:
            count.add_(1)
            if momentum is None:  # a cumulative average: members step together
                momentum = 1.0 / float(count[0])
        flat = [self._get(i, k).flatten() for k in ("running_mean", "running_var", "weight",
                                                    "bias")]
        if layout == "channels":  # (B, M·C, H, W)
            return F.batch_norm(x, *flat, self.training, momentum, layer.eps)
        b = x.shape[1]  # members: (M, B, C) → (B, M·C) and back
        y = F.batch_norm(x.transpose(0, 1).reshape(b, -1), *flat, self.training, momentum,
                         layer.eps)
        return y.view(b, self.size, -1).transpose(0, 1)

    def _get(self, layer: int, name: str) -> torch.Tensor | None:
        key = f"{layer}.{name}"
        if key in self.names:
            return self.params[self.names.index(key)]
        if key in self.buffer_names:
            return self.buffers[self.buffer_names.index(key)]
        return None


def _to_channels(x: torch.Tensor) -> torch.Tensor:
    """(M, B, C, H, W) → (B, M·C, H, W)."""
    return x.transpose(0, 1).flatten(1, 2)

