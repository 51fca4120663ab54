"""Why losses differ, measured: gradients at the model's outputs, per sample.

At a logged step one backward hook on the outputs captures d(loss)/d(output);
nothing else is computed twice. The per-sample gradient of a mean loss is
scaled by the batch size so it reads as the gradient of that sample's own loss.
Every value is per member of the population ((M,) tensors; a single run is M = 1).
"""

from __future__ import annotations

import torch


def per_sample_size(grad: torch.Tensor) -> torch.Tensor:
    """(M, B, ...) → (M, B): |g| for a one-output model, the L2 norm over outputs
    otherwise; × batch size."""
    return grad.reshape(*grad.shape[:2], -1).norm(dim=2) * grad.shape[1]


def grad_norms(grads: list[torch.Tensor | None]) -> torch.Tensor:
    """(M,): each member's global gradient norm over all its parameters (stacked grads)."""
    return torch.stack([g.flatten(1).norm(dim=1) for g in grads if g is not None]).norm(dim=0)


class OutputGradients:
    """Captures the output gradient of one step and turns it into TensorBoard scalars."""

    def __init__(self, corrupted: torch.Tensor) -> None:
        self.corrupted = corrupted  # (M, n) bool over each member's training samples
        self.grad: torch.Tensor | None = None

    def keep(self, index: torch.Tensor) -> None:
        self.corrupted = self.corrupted[index]

    def watch(self, output: torch.Tensor) -> None:
        def keep(grad: torch.Tensor) -> None:
            self.grad = grad.detach()

        output.register_hook(keep)

    def scalars(self, grads: list[torch.Tensor | None], idx: torch.Tensor,
                loss_scale: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """(M,) device tensors, read back by the logger with the loss: no extra host sync.
        `grads` are unscaled already; the captured output gradient is divided by
        `loss_scale` ((M,), precision 16) here."""
        assert self.grad is not None, "watch() the output before backward()"
        grad = self.grad.float()
        if loss_scale is not None:
            grad = grad / loss_scale.view(-1, *[1] * (grad.ndim - 1))
        per_sample = per_sample_size(grad)
        bad = self.corrupted.gather(1, idx)
        self.grad = None
        return {"grad/norm": grad_norms(grads),
                "grad/output_abs_mean": per_sample.mean(dim=1),
                "grad/output_abs_max": per_sample.amax(dim=1),
                "grad/corrupted_share": (per_sample * bad).sum(dim=1) / per_sample.sum(dim=1),
                "data/corrupted_fraction": bad.float().mean(dim=1)}
