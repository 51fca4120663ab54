"""torch's SGD, Adam and AdamW for parameters stacked over members, (M, *shape) each, with
each member's settings read from its own MemberOptimizer (trainer/optimizers.py) at every
step, so torch's LR schedulers act per member.

torch.optim cannot step one slice of a tensor with its own learning rate, so the update is
written here op for op as torch's single-tensor implementation (torch/optim/sgd.py and
adam.py, `foreach=False`). A setting every member shares enters as the Python number torch
uses; one that differs as an (M, 1, ..., 1) tensor in the parameter's dtype, made from the
same Python values (tests/test_optimizers.py holds it to torch.optim). A single run is a
population of one: its parameters viewed as (1, *shape).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from trainer.diagnostics import grad_norms
from trainer.optimizers import MemberOptimizer

Value = float | torch.Tensor  # a Python number (every member alike) or (M, 1, ..., 1)


def axpy(x: torch.Tensor, y: torch.Tensor, a: Value, inplace: bool = False) -> torch.Tensor:
    """x + a·y, as torch's `x.add(y, alpha=a)` when `a` is a number."""
    if isinstance(a, torch.Tensor):
        return x.addcmul_(y, a) if inplace else x.addcmul(y, a)
    return x.add_(y, alpha=a) if inplace else x.add(y, alpha=a)


class StackedOptimizer:
    """One step for every member at once; `export` gives one member's state in torch's format."""

    def __init__(self, params: list[torch.Tensor], optimizers: list[MemberOptimizer]) -> None:
        self.params, self.optimizers = params, optimizers
        self.name = optimizers[0].name
        self.steps = [0] * len(optimizers)  # per member: fp16's scaler may skip a member's step
        self.state: list[dict[str, torch.Tensor]] = [{} for _ in params]
        self._constants: dict[tuple, torch.Tensor] = {}
        self._previous: dict[tuple, torch.Tensor] = {}
        self._gather()

    def _per_member(self, values: list[float], like: torch.Tensor) -> Value:
        """A number when every member has the same value, else (M, 1, ..., 1) in like's dtype.
        Tensors are kept while their values stay (no copy to the device per step)."""
        if all(v == values[0] for v in values):
            return values[0]
        key = (tuple(values), like.ndim, like.dtype, like.device)
        made = self._constants.get(key, self._previous.get(key))
        if made is None:
            shape = (len(values),) + (1,) * (like.ndim - 1)
            made = torch.tensor(values, dtype=like.dtype, device=like.device).view(shape)
        self._constants[key] = made
        return made

    def _settings(self, key: str) -> list[Any]:
        return [o.param_groups[0][key] for o in self.optimizers]

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor | None], skip: list[bool] | None = None) -> None:
        """`grads[i]` is params[i]'s (None: no gradient, left alone as torch does); members
        in `skip` (fp16's scaler found Inf or NaN) keep their parameters and state."""
        self._previous, self._constants = self._constants, {}
        skipped = [m for m, s in enumerate(skip or []) if s]
        saved = self._save(skipped) if skipped else None
        self.steps = [n + (m not in skipped) for m, n in enumerate(self.steps)]
        group = self.optimizers[0].param_groups[0]
        for p, grad, state in zip(self.params, grads, self.state, strict=True):
            if grad is None:
                continue
            if self.name == "sgd":
                self._sgd(p, grad, state, group["nesterov"])
            else:
                self._adam(p, grad, state, group["amsgrad"], group["decoupled_weight_decay"])
        if saved is not None:
            self._restore(skipped, saved)

    def _sgd(self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor],
             nesterov: bool) -> None:
        weight_decay, momentum = self._settings("weight_decay"), self._settings("momentum")
        if any(weight_decay):
            grad = axpy(grad, p, self._per_member(weight_decay, p))
        if any(momentum):  # a member without momentum: buf = 0·buf + grad = grad
            buf = state.get("momentum_buffer")
            m = self._per_member(momentum, p)
            if buf is None:
                state["momentum_buffer"] = buf = grad.detach().clone()
            else:
                buf.mul_(m).add_(grad)
            grad = axpy(grad, buf, m) if nesterov else buf
        axpy(p, grad, self._per_member([-lr for lr in self._settings("lr")], p), inplace=True)

    def _adam(self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor],
              amsgrad: bool, decoupled: bool) -> None:
        lr, weight_decay = self._settings("lr"), self._settings("weight_decay")
        beta1, beta2 = zip(*self._settings("betas"), strict=True)
        if any(weight_decay) and decoupled:  # torch: param.mul_(1 - lr * weight_decay)
            p.mul_(self._per_member([1 - a * w for a, w in zip(lr, weight_decay, strict=True)],
                                    p))
        elif any(weight_decay):
            grad = axpy(grad, p, self._per_member(weight_decay, p))
        if not state:
            state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
            if amsgrad:
                state["max_exp_avg_sq"] = torch.zeros_like(p)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, self._per_member([1 - b for b in beta1], p))
        one_minus_beta2 = self._per_member([1 - b for b in beta2], p)
        exp_avg_sq.mul_(self._per_member(list(beta2), p))
        if isinstance(one_minus_beta2, torch.Tensor):  # value·grad·grad, in torch's order
            exp_avg_sq.addcmul_(grad * one_minus_beta2, grad)
        else:
            exp_avg_sq.addcmul_(grad, grad, value=one_minus_beta2)
        # Bias corrections and step sizes in Python floats per member, as torch computes them.
        steps = [max(n, 1) for n in self.steps]  # 0: a skipped member, restored after
        step_size = [-a / (1 - b ** n) for a, b, n in zip(lr, beta1, steps, strict=True)]
        correction2 = [(1 - b ** n) ** 0.5 for b, n in zip(beta2, steps, strict=True)]
        if amsgrad:
            torch.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            exp_avg_sq = state["max_exp_avg_sq"]
        eps = self._settings("eps")[0]
        denom = (exp_avg_sq.sqrt() / self._per_member(correction2, p)).add_(eps)
        size = self._per_member(step_size, p)
        if isinstance(size, torch.Tensor):  # (value·exp_avg)/denom, as addcdiv computes it
            p.add_(exp_avg.mul(size).div_(denom))
        else:
            p.addcdiv_(exp_avg, denom, value=size)

    def _save(self, members: list[int]) -> list[list[torch.Tensor | None]]:
        index = torch.tensor(members, device=self.params[0].device)
        return [[p[index].clone()] + [s[index].clone() if key in s else None
                                      for key in ("momentum_buffer", "exp_avg", "exp_avg_sq",
                                                  "max_exp_avg_sq")]
                for p, s in zip(self.params, self.state, strict=True)]

    def _restore(self, members: list[int], saved: list[list[torch.Tensor | None]]) -> None:
        """The skipped members' slices back as they were; state made by this step starts at
        zero, which the next step treats as torch treats no state yet."""
        index = torch.tensor(members, device=self.params[0].device)
        keys = ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        for p, s, (old_p, *old) in zip(self.params, self.state, saved, strict=True):
            p.index_copy_(0, index, old_p)
            for key, value in zip(keys, old, strict=True):
                if key in s:
                    s[key].index_copy_(0, index, value if value is not None
                                       else torch.zeros_like(s[key][index]))

    def keep(self, index: torch.Tensor, params: list[torch.Tensor]) -> None:
        """Only the members at `index` go on; `params` are their new leaves."""
        kept = index.tolist()
        self.params = params
        self.optimizers = [self.optimizers[i] for i in kept]
        self.steps = [self.steps[i] for i in kept]
        self.state = [{k: v[index] for k, v in s.items()} for s in self.state]
        self._constants, self._previous = {}, {}

    # A member's state in and out of its own MemberOptimizer (torch's state_dict format).

    def _gather(self) -> None:
        """Stack the state the members' optimizers hold (loaded from checkpoints, or none)."""
        for m, o in enumerate(self.optimizers):
            first = o.state.get(o.params[0], {})
            self.steps[m] = int(first["step"]) if "step" in first else 0
        for i, p in enumerate(self.params):
            for key in ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
                slices = [o.state.get(o.params[i], {}).get(key) for o in self.optimizers]
                if all(s is None for s in slices):
                    continue
                self.state[i][key] = torch.stack(
                    [torch.zeros_like(p[0]) if s is None else s.to(p.dtype) for s in slices])

    def export(self, m: int) -> dict[str, Any]:
        """Member m's optimizer state_dict, as torch's step would have left it (copies)."""
        optimizer = self.optimizers[m]
        optimizer.state.clear()
        momentum = optimizer.param_groups[0].get("momentum", 0)
        for p, state in zip(optimizer.params, self.state, strict=True):
            if self.name == "sgd":
                if momentum and "momentum_buffer" in state:
                    optimizer.state[p] = {"momentum_buffer": state["momentum_buffer"][m].clone()}
            elif state and self.steps[m]:
                optimizer.state[p] = {"step": torch.tensor(float(self.steps[m])),
                                      **{k: v[m].clone() for k, v in state.items()}}
        return optimizer.state_dict()


class Clipping:
    """trainer.gradient_clip_val per member: torch.nn.utils.clip_grad_norm_'s rule, each
    member's gradients scaled by min(1, bound / (its global norm + 1e-6)); a member without
    a bound keeps its gradients as they are."""

    def __init__(self, bounds: list[float | None], device: torch.device) -> None:
        self.on = any(b is not None for b in bounds)
        if self.on:
            self.bound = torch.tensor([math.inf if b is None else b for b in bounds],
                                      device=device)
            self.clipped = torch.tensor([b is not None for b in bounds], device=device)

    def __call__(self, grads: list[torch.Tensor | None]) -> None:
        if not self.on:
            return
        coef = (self.bound / (grad_norms(grads) + 1e-6)).clamp(max=1.0)
        coef = torch.where(self.clipped, coef, 1.0)  # an unbounded member's Inf stays Inf
        for g in grads:
            if g is not None:
                g.mul_(coef.view(-1, *[1] * (g.ndim - 1)).to(g.dtype))

    def keep(self, index: torch.Tensor) -> None:
        if self.on:
            self.bound, self.clipped = self.bound[index], self.clipped[index]
