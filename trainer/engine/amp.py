"""Precision 16's gradient scaler for every member at once: torch.amp.GradScaler's rule
(scale the loss, unscale the gradients, skip a step whose gradients hold Inf or NaN,
back off or grow the scale) with one scale per member, so that one member's overflow
skips only its own step. Off (precision 32, bf16), every call is a no-op.
"""

from __future__ import annotations

from typing import Any

import torch

# torch.amp.GradScaler's defaults, and the keys of its state_dict, which checkpoints keep.
INIT_SCALE, GROWTH, BACKOFF, INTERVAL = 2.0**16, 2.0, 0.5, 2000


class Scaler:
    def __init__(self, enabled: bool, states: list[dict[str, Any]], device: torch.device
                 ) -> None:
        self.enabled = enabled
        if not enabled:
            return
        self.scale = torch.tensor([s.get("scale", INIT_SCALE) for s in states],
                                  dtype=torch.float32, device=device)
        self.tracker = torch.tensor([s.get("_growth_tracker", 0) for s in states],
                                    dtype=torch.int32, device=device)

    def scaled(self, losses: torch.Tensor) -> torch.Tensor:
        return losses * self.scale.to(losses.dtype) if self.enabled else losses

    def loss_scale(self) -> torch.Tensor | None:
        return self.scale if self.enabled else None

    def unscale(self, grads: list[torch.Tensor | None]) -> list[bool] | None:
        """Divide each member's gradients by its scale; the members whose gradients hold
        Inf or NaN (their step is skipped), or None when the scaler is off."""
        if not self.enabled:
            return None
        inverse = self.scale.double().reciprocal().float()  # as GradScaler.unscale_
        found = torch.zeros_like(self.scale, dtype=torch.bool)
        for g in grads:
            if g is not None:
                g.mul_(inverse.view(-1, *[1] * (g.ndim - 1)))
                found |= ~g.flatten(1).isfinite().all(dim=1)
        self.found = found
        return found.tolist()  # one host read per step, as GradScaler.step makes

    def update(self) -> None:
        """torch's _amp_update_scale_, per member."""
        if not self.enabled:
            return
        grown = self.tracker + 1
        grow = ~self.found & (grown == INTERVAL)
        self.scale = torch.where(self.found, self.scale * BACKOFF,
                                 torch.where(grow, self.scale * GROWTH, self.scale))
        self.tracker = torch.where(self.found | grow, 0, grown).to(torch.int32)

    def keep(self, index: torch.Tensor) -> None:
        if self.enabled:
            self.scale, self.tracker = self.scale[index], self.tracker[index]

    def state_dict(self, m: int) -> dict[str, Any]:
        """Member m's GradScaler.state_dict() ({} when off, as torch's)."""
        if not self.enabled:
            return {}
        return {"scale": float(self.scale[m]), "growth_factor": GROWTH,
                "backoff_factor": BACKOFF, "growth_interval": INTERVAL,
                "_growth_tracker": int(self.tracker[m])}
