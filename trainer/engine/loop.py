"""The one training loop: M runs at once, M = 1 for a single run. It knows tensors, not names.

Each member arrives as trainer.run.setup builds it (its seed, data, initial weights,
optimizer and checkpoint) and leaves with its own files. What the members share: the
inputs, the batch size and the number of steps. What each keeps: its batch order, its
targets, its loss, its optimizer's settings and LR schedule, its clipping bound and its
fp16 loss scale. A single run's model is its own nn.Module (engine/single.py); a
population's is one stacked model (engine/stacked.py). Data stays on the device; a number
is read back to the host only every `log_every_n_steps` steps and at the end of an epoch.

A member whose loss or parameters become NaN or Inf is recorded `diverged` and leaves;
the others go on. A member whose scores or files fail leaves with the error in
`Member.error`; an interrupt stops every member, each with it in `Member.error`: the
caller records those ends (trainer/rundir/policy.py). The steps within an epoch, and
members leaving mid-training, are engine/steps.py's.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from lossbench.metrics import in_units
from lossbench.status import RunStatus
from trainer import determinism, rng, schedulers
from trainer.diagnostics import OutputGradients
from trainer.engine import amp, fault, optim, stacked
from trainer.engine.member import SHARED, Member, Outcome, same, steps_per_epoch
from trainer.engine.scoring import loss_key, loss_runs, scores, scores_together
from trainer.engine.single import Single
from trainer.engine.steps import Steps, progress_bar
from trainer.engine.writer import Writer
from trainer.rundir import checkpoint, signals

log = logging.getLogger("lossbench")
EVAL_BYTES = 2**28  # activations one evaluation chunk may take, all members together


@torch.no_grad()
def evaluate(model: Single | stacked.StackedModel, x: torch.Tensor,
             prepare: Callable[[torch.Tensor], torch.Tensor], autocast: torch.autocast,
             rows: int) -> torch.Tensor:
    """Every member's outputs on a whole split, (M, n, ...), `rows` samples at a time, in
    eval mode (batch norm's running statistics, left as they are)."""
    model.train(False)
    with autocast:
        outputs = [model(prepare(part), shared=True) for part in x.split(rows)]
    model.train(True)
    return torch.cat(outputs, dim=1)


def train(members: list[Member]) -> None:
    """Train the members together. Each ends with `record` (ok, diverged) or `error`; a
    KeyboardInterrupt is raised again once every member still training holds it."""
    population = None
    try:
        population = Population(members)
        with determinism.enforced(population.settings.deterministic):
            population.fit()
    except BaseException as err:  # every member still training keeps it
        if population is not None:  # epochs being written are written, then each leaves
            population.writer.drain(population.active, leave=True)
        for member in population.active if population else members:
            member.error = member.error or err
        if isinstance(err, KeyboardInterrupt):
            raise
    finally:
        if population is not None:
            population.writer.close()


class Population(Steps):
    def __init__(self, members: list[Member]) -> None:
        self.active = sorted(members, key=lambda m: loss_key(m.job.cfg))
        parts = self.active[0].job.parts
        self.settings, self.metrics, data = parts.settings, parts.task.METRICS, parts.data
        if not all(same(getattr(m.parts.data, k), getattr(data, k))
                   for m in self.active for k in SHARED):
            raise ValueError("population members must share their inputs and test targets")
        self.device, self.x_train, self.prepare = data.x_train.device, data.x_train, data.prepare
        self.val = data.x_val is not None
        self.steps = steps_per_epoch(len(self.x_train), self.settings)
        self.first_epoch = 1 if parts.state is None else parts.state["epoch"] + 1
        self.live_streams = len(members) == 1  # the global streams are the member's own
        for member in self.active:
            p = member.parts
            member.order = torch.Generator(device=self.device).manual_seed(p.settings.seed)
            member.schedule = schedulers.build(p.settings.scheduler, p.optimizer, self.steps)
            if self.live_streams:
                rng.restore(member.rng)  # as its setup left them
            if p.state is not None:  # continues exactly where it stopped
                checkpoint.restore(p.state, p.model, p.optimizer, member.order, member.schedule)
                member.rng = rng.capture()
        self.model = Single(parts.model, self.settings.compile) if len(members) == 1 else \
            stacked.StackedModel([m.parts.model for m in self.active])
        self.rows = 4096 if len(members) == 1 else max(1, EVAL_BYTES // (
            4 * len(members) * stacked.cost(parts.model, data.input_shape).activations))
        self.optimizer = optim.StackedOptimizer(self.model.params,
                                                [m.parts.optimizer for m in self.active])
        self.scaler = amp.Scaler(self.settings.precision == "16",
                                 [(m.parts.state or {}).get("scaler") or {}
                                  for m in self.active], self.device)
        self.y_train = torch.stack([m.parts.data.y_train for m in self.active])
        self.clip = optim.Clipping([m.parts.settings.gradient_clip_val
                                    for m in self.active], self.device)
        self.watch = [bool(m.parts.settings.diagnostics) for m in self.active]
        self.diagnostics = OutputGradients(torch.stack(
            [m.parts.data.corrupted for m in self.active])) if any(self.watch) else None
        self.runs = loss_runs(self.active)
        self.writer = Writer(together=len(members) > 1)
        self.kill_at = fault.kill_point()  # None but in crash tests

    def fit(self) -> None:
        cfg, n = self.settings, len(self.x_train)
        autocast = cfg.autocast(self.device)
        for epoch in range(self.first_epoch, cfg.max_epochs + 1):
            started = time.perf_counter()
            lrs = [schedulers.current_lr(m.parts.optimizer) for m in self.active]
            self.perms = torch.stack([torch.randperm(n, device=self.device, generator=m.order)
                                      for m in self.active])
            self.window = torch.zeros(len(self.active), device=self.device)
            self.epoch_sum = [0.0] * len(self.active)
            bar = progress_bar(cfg.progress_bar and sys.stderr.isatty(), self.steps, epoch,
                            cfg.max_epochs)
            for step in range(1, self.steps + 1):
                fault.kill_if(self.kill_at, epoch, step, lambda: self.writer.drain(self.active))
                log_now = step % cfg.log_every_n_steps == 0 or step == self.steps
                idx = self.perms[:, (step - 1) * cfg.batch_size: step * cfg.batch_size]
                grads = self._step(idx, autocast, watch=log_now and any(self.watch))
                if log_now:
                    lrs = [lrs[i] for i in self._log_step(epoch, step, grads)]
                    if not self.active:
                        return
                if bar is not None:
                    bar.update()
            if bar is not None:
                bar.close()
            for member in self.active:
                member.schedule.after_epoch()
            self._end_epoch(epoch, started, autocast, lrs)
            if not self.active:
                return
        self._drop(self.writer.drain(self.active, leave=True))
        for member in self.active:
            self._finish(member, Outcome(RunStatus.OK))
        self.active = []

    def _end_epoch(self, epoch: int, started: float, autocast: torch.autocast,
                   lrs: list[float]) -> None:
        """Evaluate, log the epoch, then checkpoint it and let metrics.json claim it."""
        data = self.active[0].job.parts.data
        test = evaluate(self.model, data.x_test, self.prepare, autocast, self.rows)
        val = evaluate(self.model, data.x_val, self.prepare, autocast, self.rows) \
            if self.val else None
        finite = self.model.finite().tolist()
        together = scores_together(test, val, [m.parts.data for m in self.active], self.runs,
                                   self.metrics) if len(self.active) > 1 else None
        took = round(time.perf_counter() - started, 4)  # the epoch, evaluation included
        ended, states = [], []
        for i, member in enumerate(self.active):
            own = member.parts
            entry = {"epoch": epoch, "train/loss_epoch": self.epoch_sum[i] / self.steps,
                     "train/lr": lrs[i]}
            try:
                self.writer.wait(member)  # its last epoch on disk (raising what that raised)
                with member.logs():
                    if together is not None:
                        scored = together[i]
                    else:  # one by one, so that one member's error is its own
                        scored = scores(test[i], own.data.y_test, own.loss_fn, self.metrics)
                        if val is not None:
                            scored.update(scores(val[i], own.data.y_val, own.loss_fn,
                                                 self.metrics, split="val"))
                    entry.update(in_units(scored, own.data.target_scale))
                    if not finite[i]:
                        ended.append(i)
                        self._finish(member, Outcome(RunStatus.DIVERGED, "a model parameter "
                                                     f"became NaN or Inf in epoch {epoch}"))
                        continue
                    entry["time_s"] = took
                    # Epoch scalars share the step axis of train/loss, so a resumed run's
                    # purge_step removes everything after its checkpoint, whatever the tag.
                    with signals.deferred():
                        member.job.logger.epoch(entry, global_step=epoch * self.steps)
                    states.append((member, self._checkpoint(i, member)))
            except Exception as err:  # this member's scores or files; the others go on
                ended.append(i)
                member.error = err
                with contextlib.suppress(Exception):  # its last good epoch, if it can
                    self.writer.leave(member)
        self.writer.commit(states)
        self._drop(ended)

    def _checkpoint(self, i: int, member: Member) -> dict[str, Any]:
        """Member i's checkpoint, as its single run writes it; copies, so training goes on
        while a writer thread saves it."""
        streams = rng.capture(member.order) if self.live_streams else \
            {**member.rng, "order": member.order.get_state()}  # nothing stacked draws from them
        return checkpoint.state(member.job.logger.staged_record(), self.model.member_state(i),
                                self.optimizer.export(i), member.schedule,
                                self.scaler.state_dict(i), streams)

    def _finish(self, member: Member, outcome: Outcome) -> None:
        """The member's final record, once its last committed epoch is on disk."""
        try:
            self.writer.leave(member)
        except Exception as err:  # that write failed: the member failed
            member.error = err
            return
        with member.logs():
            if outcome.status == RunStatus.DIVERGED:
                log.warning("diverged: %s", outcome.reason)
            member.record = member.job.logger.finish(outcome.status, outcome.reason)


