"""The population's training loop: loop.fit for M members at once.

Each member arrives as the single run builds it (trainer.run.setup: the same seed, data,
initial weights, optimizer and checkpoint) and leaves with the same files: its
RunLogger writes its TensorBoard scalars and metrics.json, and its checkpoints are
written by checkpoint.save from its own model and optimizer, refreshed from the stacked
tensors at the end of each epoch. Per epoch, a member's scores and records go through
loop.scores and loop.record_epoch, the functions fit uses.

What the members share: the training, validation and test inputs, the batch size and
the number of steps. What each keeps: its seed's data order (its own generator, as fit
draws it), its targets (label noise, outliers), its loss, its optimizer's settings. A
member whose loss or parameters become NaN or Inf is recorded `diverged`, as fit records
it, and leaves the population; the others go on. A member whose scores or files fail
leaves with the error in `Member.error`; an interrupt stops every member, each with the
interrupt in `Member.error`: the caller records those ends (trainer/rundir/policy.py).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from lossbench.status import RunStatus
from trainer import schedulers
from trainer.assemble import Parts
from trainer.diagnostics import per_sample_size
from trainer.logger import RunLogger
from trainer.loop import Outcome, commit_epoch, scores, steps_per_epoch
from trainer.population.optim import StackedOptimizer
from trainer.population.scoring import batched_scores, member_losses
from trainer.population.stacked import StackedModel, cost
from trainer.run import Job, finish
from trainer.rundir import checkpoint, signals

# Bytes of activations one evaluation chunk may take, all members together.
EVAL_BYTES = 2**28
SHARED = ("x_train", "x_test", "y_test", "x_val")  # one copy serves every member
WRITERS = 4  # threads writing members' checkpoints and records: mostly waiting on the disk


def global_rng() -> dict[str, Any]:
    """The global random streams now: a member's, taken right after its setup."""
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
            "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_global_rng(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if states["cuda"]:
        torch.cuda.set_rng_state_all(states["cuda"])


@dataclass
class Member:
    """One run of the population: its built job and what fit would hold for it."""

    job: Job
    logs: Callable[[], AbstractContextManager] = nullcontext  # routes its log lines
    rng: dict[str, Any] = field(default_factory=global_rng)  # create right after setup
    order: torch.Generator | None = None
    schedule: schedulers.Schedule | None = None
    record: dict[str, Any] | None = None  # its metrics.json record once it ended well
    error: BaseException | None = None  # what ended it otherwise

    @property
    def logger(self) -> RunLogger:
        return self.job.logger

    @property
    def parts(self) -> Parts:
        return self.job.parts


def loss_key(member: Member) -> str:
    return json.dumps(OmegaConf.to_container(member.job.cfg.loss, resolve=True), sort_keys=True)


def same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is b
    return a is b or (a.shape == b.shape and a.dtype == b.dtype and a.device == b.device
                      and bool(a.eq(b).all()))


def train(members: list[Member]) -> None:
    """Train the members together. Each ends with `record` (ok, diverged: written as fit's
    run writes it) or `error`; a KeyboardInterrupt is raised again once every member
    still training holds it."""
    population = None
    try:
        population = Population(members)
        population.fit()
    except BaseException as err:  # every member still training keeps it
        if population is not None:
            population.drain()  # the epochs being written are written first
        for member in population.active if population else members:
            member.error = member.error or err
        if isinstance(err, KeyboardInterrupt):
            raise
    finally:
        if population is not None:
            population.writer.shutdown(wait=True)


class Population:
    def __init__(self, members: list[Member]) -> None:
        self.active = sorted(members, key=loss_key)  # members of one loss side by side
        self._runs: list[tuple[int, Any]] | None = None
        parts = self.active[0].parts
        self.settings, self.metrics, data = parts.settings, parts.task.METRICS, parts.data
        if not all(same(getattr(m.parts.data, k), getattr(data, k))
                   for m in self.active for k in SHARED):
            raise ValueError("population members must share their inputs and test targets")
        self.device = data.x_train.device
        self.x_train, self.prepare = data.x_train, data.prepare
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=False)  # 32 and bf16 only
        self.steps = steps_per_epoch(len(self.x_train), self.settings)
        self.first_epoch = 1 if parts.state is None else parts.state["epoch"] + 1
        for member in self.active:
            p = member.parts
            member.order = torch.Generator(device=self.device).manual_seed(p.settings.seed)
            member.schedule = schedulers.build(p.settings.scheduler, p.optimizer, self.steps)
            if p.state is not None:  # continues exactly where its single run would
                checkpoint.restore(p.state, p.model, p.optimizer, member.order, self.scaler,
                                   member.schedule)
                member.rng = global_rng()
        self.y_train = torch.stack([m.parts.data.y_train for m in self.active])
        self.model = StackedModel([m.parts.model for m in self.active])
        self.activations = cost(parts.model, data.input_shape).activations
        self.optimizer = StackedOptimizer(self.active[0].job.cfg.optim.name, self.model.params,
                                          [m.parts.optimizer for m in self.active])
        # Each member's checkpoint and metrics.json are written by a few threads while the
        # population trains on: a member's next epoch waits only for its own last write.
        self.writer = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="member-io")
        self.writing: dict[int, Future] = {}
        self.watch = [bool(m.parts.settings.diagnostics) for m in self.active]
        self.corrupted = torch.stack([m.parts.data.corrupted for m in self.active]) \
            if any(self.watch) else None

    # The loop, step by step as loop.fit.

    def fit(self) -> None:
        cfg = self.settings
        n, every = len(self.x_train), cfg.log_every_n_steps
        autocast = cfg.autocast(self.device)
        for epoch in range(self.first_epoch, cfg.max_epochs + 1):
            started = time.perf_counter()
            lrs = [schedulers.current_lr(m.parts.optimizer) for m in self.active]
            self.perms = torch.stack([torch.randperm(n, device=self.device, generator=m.order)
                                      for m in self.active])
            self.window = torch.zeros(len(self.active), device=self.device)
            self.epoch_sum = [0.0] * len(self.active)
            for step in range(1, self.steps + 1):
                log_now = step % every == 0 or step == self.steps
                idx = self.perms[:, (step - 1) * cfg.batch_size: step * cfg.batch_size]
                grads = self._step(idx, autocast, watch=log_now and any(self.watch))
                if log_now:
                    kept = self._log_step(epoch, step, grads)
                    lrs = [lrs[i] for i in kept]
                    if not self.active:
                        return
            self._end_epoch(epoch, started, autocast, lrs)
            if not self.active:
                return
        self._drop(self.drain())
        for member in self.active:
            self._finish(member, Outcome(RunStatus.OK))
        self.active = []

    def _step(self, idx: torch.Tensor, autocast: torch.autocast, watch: bool
              ) -> dict[str, torch.Tensor]:
        m, b = idx.shape
        x = self.prepare(self.x_train.index_select(0, idx.reshape(-1)))
        x = x.view(m, b, *x.shape[1:])
        y = self.y_train.gather(1, idx)
        with autocast:
            output = self.model(x)
            losses = member_losses(output, y, self._loss_runs())
        captured: dict[str, torch.Tensor] = {}
        if watch:
            output.register_hook(lambda grad: captured.update(output=grad.detach()))
        for p in self.model.params:
            p.grad = None
        # Members share no parameters, so the sum's gradient is each member's own.
        losses.sum().backward()
        grads = self._grad_scalars(captured["output"], idx) if watch else {}
        self.optimizer.step()
        self.window += losses.detach()
        return grads

    def _loss_runs(self) -> list[tuple[int, Any]]:
        """(end, loss) of each run of neighbouring members with the same loss config."""
        if self._runs is None:
            keys = [loss_key(m) for m in self.active]
            self._runs = [(i + 1, self.active[i].parts.loss_fn) for i, key in enumerate(keys)
                          if i + 1 == len(keys) or keys[i + 1] != key]
        return self._runs

    def _grad_scalars(self, output_grad: torch.Tensor, idx: torch.Tensor
                      ) -> dict[str, torch.Tensor]:
        """diagnostics.OutputGradients.scalars for every member: (M,) tensors."""
        per_sample = torch.stack([per_sample_size(g.float()) for g in output_grad])
        norms = torch.stack([p.grad.flatten(1).norm(dim=1) for p in self.model.params])
        values = {"grad/norm": norms.norm(dim=0),
                  "grad/output_abs_mean": per_sample.mean(dim=1),
                  "grad/output_abs_max": per_sample.amax(dim=1)}
        bad = self.corrupted.gather(1, idx)
        values["grad/corrupted_share"] = (per_sample * bad).sum(dim=1) / per_sample.sum(dim=1)
        values["data/corrupted_fraction"] = bad.float().mean(dim=1)
        return values

    def _log_step(self, epoch: int, step: int, grads: dict[str, torch.Tensor]) -> list[int]:
        """loop.log_step for every member; returns the positions of those that go on."""
        every = self.settings.log_every_n_steps
        window = self.window.tolist()  # the loop's only host sync, for all members
        self.window.zero_()
        logged = (step - 1) % every + 1
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
            member.logger.step("train/loss", window[i] / logged, global_step)
            if self.watch[i]:
                for tag, values in scalars.items():
                    if tag in ("grad/corrupted_share", "data/corrupted_fraction") and \
                            not bool(member.parts.data.corrupted.any()):
                        continue
                    member.logger.step(tag, values[i], global_step)
        return self._drop(ended)

    def _end_epoch(self, epoch: int, started: float, autocast: torch.autocast,
                   lrs: list[float]) -> None:
        data = self.active[0].parts.data
        test = self._evaluate(data.x_test, autocast)
        val = None if data.x_val is None else self._evaluate(data.x_val, autocast)
        finite = self.model.finite().tolist()
        together = self._scores_together(test, val)
        # The population's epoch, evaluation included: what fit's time_s measures for one run.
        took = round(time.perf_counter() - started, 4)
        ended = []
        for i, member in enumerate(self.active):
            own = member.parts
            entry = {"epoch": epoch, "train/loss_epoch": self.epoch_sum[i] / self.steps,
                     "train/lr": lrs[i]}
            try:
                self._written(member)
                with member.logs():
                    if together is not None:
                        entry.update(together[i])
                    else:  # one by one, so that one member's error is its own
                        entry.update(scores(test[i], own.data.y_test, own.loss_fn,
                                            self.metrics))
                        if val is not None:
                            entry.update(scores(val[i], own.data.y_val, own.loss_fn,
                                                self.metrics, split="val"))
                    if not finite[i]:
                        ended.append(i)
                        self._finish(member, Outcome(RunStatus.DIVERGED, "a model parameter "
                                                     f"became NaN or Inf in epoch {epoch}"))
                        continue
                    entry["time_s"] = took
                    # loop.record_epoch, with its second half on a writer thread.
                    with signals.deferred():
                        member.logger.epoch(entry, global_step=epoch * self.steps)
                    save = self._checkpoint(i, member)
                    self.writing[id(member)] = self.writer.submit(
                        self._commit, member, save)
            except Exception as err:  # this member's scores or files; the others go on
                ended.append(i)
                member.error = err
        self._drop(ended)

    def _scores_together(self, test: torch.Tensor, val: torch.Tensor | None
                         ) -> list[dict[str, float]] | None:
        """Every member's scores in one go; None when that fails (then member by member)."""
        runs = self._loss_runs()
        try:
            together = batched_scores(test, [m.parts.data.y_test for m in self.active], runs,
                                      self.metrics, "test")
            if val is not None:
                val_scores = batched_scores(val, [m.parts.data.y_val for m in self.active],
                                            runs, self.metrics, "val")
                for mine, more in zip(together, val_scores, strict=True):
                    mine.update(more)
        except Exception:
            return None
        return together

    @torch.no_grad()
    def _evaluate(self, x: torch.Tensor, autocast: torch.autocast) -> torch.Tensor:
        """Every member's outputs on a whole split: (M, n, ...)."""
        rows = max(1, EVAL_BYTES // (4 * len(self.active) * self.activations))
        with autocast:
            chunks = [self.model(self.prepare(part), shared=True) for part in x.split(rows)]
        return torch.cat(chunks, dim=1)

    def _checkpoint(self, i: int, member: Member) -> Callable[[], None]:
        """checkpoint.save for member i, as fit writes it: its own model and optimizer
        refreshed from the stacked tensors, its random streams read now."""
        state = self.model.member_state(i)
        own = member.parts
        with torch.no_grad():
            for name, p in own.model.named_parameters():
                p.copy_(state[name])
        self.optimizer.export(i, own.optimizer)
        set_global_rng(member.rng)  # the streams its single run would save
        rng = checkpoint.rng_states(member.order)
        return lambda: checkpoint.save(member.logger.run_dir, own.model, own.optimizer,
                                       member.order, self.scaler,
                                       member.logger.staged_record(), member.schedule, rng)

    @staticmethod
    def _commit(member: Member, save: Callable[[], None]) -> None:
        with member.logs():
            commit_epoch(member.logger, save)

    def _written(self, member: Member) -> None:
        """Wait for the member's last epoch to be on disk (raising what its write raised)."""
        future = self.writing.pop(id(member), None)
        if future is not None:
            future.result()

    def drain(self) -> list[int]:
        """Wait for every write; the positions of members whose write failed (their error
        kept in Member.error)."""
        failed = []
        for i, member in enumerate(self.active):
            try:
                self._written(member)
            except Exception as err:
                member.error = err
                failed.append(i)
        return failed

    # Members leaving: finished or diverged here; failed ones keep their error.

    def _finish(self, member: Member, outcome: Outcome) -> None:
        try:
            self._written(member)  # its last committed epoch before the final record
        except Exception as err:  # that write failed: the member failed
            member.error = err
            return
        with member.logs():
            member.record = finish(member.job, outcome)

    def _drop(self, ended: list[int]) -> list[int]:
        keep = [i for i in range(len(self.active)) if i not in ended]
        if not ended:
            return keep
        self.active = [self.active[i] for i in keep]
        self._runs = None
        self.epoch_sum = [self.epoch_sum[i] for i in keep]
        self.watch = [self.watch[i] for i in keep]
        if not keep:
            return keep
        index = torch.tensor(keep, device=self.device)
        self.model.keep(index)
        self.optimizer.keep(index, self.model.params)
        self.y_train, self.perms, self.window = (t[index] for t in
                                                 (self.y_train, self.perms, self.window))
        if self.corrupted is not None:
            self.corrupted = self.corrupted[index]
        return keep
