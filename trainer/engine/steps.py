"""The steps of a population's epoch (engine/loop.py's Population): forward, backward and
the optimizer step on every member's batch; the loss windows read back and logged, the
members whose loss became NaN or Inf ended; and members leaving, their rows dropped from
every stacked part so the others go on. Apart from loop.py, which holds the epoch around
them (set-up, evaluation, checkpoints, the member's end), so each file reads in one go.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import torch

from lossbench.status import RunStatus
from trainer.engine.member import Member, Outcome
from trainer.engine.scoring import loss_runs, member_losses


class Steps:
    """Population's training steps; every attribute is the population's (loop.py sets
    them up), and `_finish` its own (a member's final record)."""

    active: list[Member]
    settings: Any
    device: torch.device
    steps: int

    def _finish(self, member: Member, outcome: Outcome) -> None:
        raise NotImplementedError

    def _step(self, idx: torch.Tensor, autocast: torch.autocast, watch: bool
              ) -> dict[str, torch.Tensor]:
        """Forward, backward and an optimizer step on each member's batch."""
        m, b = idx.shape
        # index_select: about 5× cheaper than x[idx] for a batch (scripts/bench/profile_loop.py).
        x = self.prepare(self.x_train.index_select(0, idx.reshape(-1)))
        x = x.view(m, b, *x.shape[1:])
        y = self.y_train[0].index_select(0, idx[0]).unsqueeze(0) if m == 1 else \
            self.y_train[torch.arange(m, device=self.device)[:, None], idx]
        with autocast:
            output = self.model(x)
            losses = member_losses(output, y, self.runs)
        if watch:
            self.diagnostics.watch(output)
        for p in self.model.leaves():
            p.grad = None
        # Members share no parameters, so the sum's gradient is each member's own.
        self.scaler.scaled(losses).sum().backward()
        grads = self.model.grads()
        skip = self.scaler.unscale(grads)
        scalars = self.diagnostics.scalars(grads, idx, self.scaler.loss_scale()) \
            if watch else {}
        self.clip(grads)
        self.optimizer.step(grads, skip)
        self.scaler.update()
        for member in self.active:
            member.schedule.after_step()
        self.window += losses.detach().float()
        return scalars

    def _log_step(self, epoch: int, step: int, grads: dict[str, torch.Tensor]) -> list[int]:
        """Read the loss windows back (the loop's only host sync), log them; returns the
        positions of the members that go on."""
        every = self.settings.log_every_n_steps
        window = self.window.tolist()
        self.window.zero_()
        global_step = (epoch - 1) * self.steps + step
        scalars = dict(zip(grads, torch.stack(list(grads.values())).tolist(),
                           strict=True)) if grads else {}
        ended = []
        for i, member in enumerate(self.active):
            if not math.isfinite(window[i]):
                ended.append(i)
                self._finish(member, Outcome(
                    RunStatus.DIVERGED, f"training loss became {window[i]} at epoch {epoch}, "
                    f"step {step} (checked every {every} steps)"))
                continue
            self.epoch_sum[i] += window[i]
            member.job.logger.step("train/loss", window[i] / ((step - 1) % every + 1),
                                   global_step)
            corrupted = bool(member.parts.data.corrupted.any())
            for tag, values in scalars.items() if self.watch[i] else ():
                if corrupted or tag not in ("grad/corrupted_share", "data/corrupted_fraction"):
                    member.job.logger.step(tag, values[i], global_step)
        return self._drop(ended)

    def _drop(self, ended: list[int]) -> list[int]:
        """Members at `ended` leave; returns the positions of those that go on."""
        keep = [i for i in range(len(self.active)) if i not in ended]
        if not ended:
            return keep
        self.active = [self.active[i] for i in keep]
        self.epoch_sum = [self.epoch_sum[i] for i in keep]
        self.watch = [self.watch[i] for i in keep]
        if not keep:
            return keep
        index = torch.tensor(keep, device=self.device)
        self.model.keep(index)
        self.optimizer.keep(index, self.model.params)
        for part in (self.scaler, self.clip, self.diagnostics):
            if part is not None:
                part.keep(index)
        self.runs = loss_runs(self.active)
        self.y_train, self.perms, self.window = (t[index] for t in
                                                 (self.y_train, self.perms, self.window))
        return keep


def progress_bar(show: bool, steps: int, epoch: int, epochs: int) -> Any:
    """tqdm's bar over the epoch's steps, or None when not shown."""
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", leave=False, file=sys.stderr)
