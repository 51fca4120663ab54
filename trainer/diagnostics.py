"""Why losses differ, measured: gradients at the model's outputs, per sample.

At a logged step one backward hook on the outputs captures d(loss)/d(output);
nothing else is computed twice. The per-sample gradient of a mean loss is
scaled by the batch size so it reads as the gradient of that sample's own loss.
"""

from __future__ import annotations

import torch
from torch import nn


def per_sample_size(grad: torch.Tensor) -> torch.Tensor:
    """|g| for a one-output model, the L2 norm over outputs otherwise; × batch size."""
    return grad.reshape(len(grad), -1).norm(dim=1) * len(grad)


class OutputGradients:
    """Captures the output gradient of one step and turns it into TensorBoard scalars."""

    def __init__(self, corrupted: torch.Tensor) -> None:
        self.corrupted = corrupted  # bool over training samples, on the device
        self.any_corrupted = bool(corrupted.any())
        self.grad: torch.Tensor | None = None

    def watch(self, output: torch.Tensor) -> None:
        def keep(grad: torch.Tensor) -> None:
            self.grad = grad.detach()

        output.register_hook(keep)

    def scalars(self, model: nn.Module, idx: torch.Tensor, loss_scale: float = 1.0
                ) -> dict[str, torch.Tensor]:
        """Device tensors, read back by the logger with the loss: no extra host sync."""
        assert self.grad is not None, "watch() the output before backward()"
        per_sample = per_sample_size(self.grad.float() / loss_scale)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        values = {
            "grad/norm": torch.nn.utils.get_total_norm(grads) / loss_scale,
            "grad/output_abs_mean": per_sample.mean(),
            "grad/output_abs_max": per_sample.max(),
        }
        if self.any_corrupted:
            bad = self.corrupted[idx]
            values["grad/corrupted_share"] = per_sample[bad].sum() / per_sample.sum()
            values["data/corrupted_fraction"] = bad.float().mean()
        self.grad = None
        return values
