"""torch's SGD, Adam and AdamW for parameters stacked over members, each with its own
learning rate, weight decay and momentum.

torch.optim cannot step one slice of a tensor with its own learning rate, so the update is
written here for stacked tensors, op for op as torch's single-tensor implementation
(torch/optim/sgd.py and adam.py, `foreach=False`): per-member values enter as (M, 1, ...)
tensors where torch uses a Python number. Each member's own torch optimizer stays the
source and sink of its state, so checkpoints keep torch's format.
"""

from __future__ import annotations

import torch

SUPPORTED = ("sgd", "adam", "adamw")
# Options this update implements only at torch's defaults.
DEFAULTS = {"sgd": {"dampening": 0, "nesterov": False, "maximize": False},
            "adam": {"amsgrad": False, "maximize": False, "capturable": False,
                     "differentiable": False, "fused": None},
            "adamw": {"amsgrad": False, "maximize": False, "capturable": False,
                      "differentiable": False, "fused": None}}


def unsupported(name: str, optimizer: torch.optim.Optimizer) -> str | None:
    """Why this optimizer's update is not written here, or None."""
    if name not in SUPPORTED or len(optimizer.param_groups) != 1:
        return f"optim={name} is not one of {', '.join(SUPPORTED)} with one parameter group"
    group = optimizer.param_groups[0]
    for key, default in DEFAULTS[name].items():
        if group.get(key, default) != default:
            return f"optim.{key}={group[key]!r} (population training implements {default!r})"
    return None


class StackedOptimizer:
    """One step for every member at once; `export`/`load` move one member's state."""

    def __init__(self, name: str, params: list[torch.Tensor],
                 optimizers: list[torch.optim.Optimizer]) -> None:
        self.name, self.params = name, params
        groups = [o.param_groups[0] for o in optimizers]
        self.lr = [g["lr"] for g in groups]
        self.weight_decay = [g["weight_decay"] for g in groups]
        self.momentum = [g.get("momentum", 0.0) for g in groups]
        if name != "sgd":
            self.beta1, self.beta2 = groups[0]["betas"]
            self.eps = groups[0]["eps"]
        self.steps = 0
        self.state: list[dict[str, torch.Tensor]] = [{} for _ in params]
        self._constants: dict[tuple, torch.Tensor] = {}
        self._gather(optimizers)

    def _per_member(self, name: str, values: list[float], like: torch.Tensor,
                    dtype: torch.dtype | None = None) -> torch.Tensor:
        """(M, 1, ..., 1), in the parameter's dtype unless given: broadcasts over one member's
        slice. Made once per leaf shape (the values stay until members leave)."""
        dtype = dtype or like.dtype
        key = (name, like.ndim, dtype, like.device)
        if key not in self._constants:
            shape = (len(values),) + (1,) * (like.ndim - 1)
            self._constants[key] = torch.tensor(values, dtype=dtype,
                                                device=like.device).view(shape)
        return self._constants[key]

    def _step_sizes(self, bias_correction1: float, like: torch.Tensor) -> torch.Tensor:
        """−lr / bias_correction1 per member, divided in float64 as torch does in Python."""
        lr = self._per_member("lr", self.lr, like, torch.float64)
        return (-lr / bias_correction1).to(like.dtype)

    def keep(self, index: torch.Tensor, params: list[torch.Tensor]) -> None:
        """Only the members at `index` go on; `params` are their new leaves."""
        kept = index.tolist()
        self.params = params
        for values in (self.lr, self.weight_decay, self.momentum):
            values[:] = [values[i] for i in kept]
        self.state = [{k: v[index] for k, v in s.items()} for s in self.state]
        self._constants = {}

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        if self.name == "sgd":
            self._sgd()
        else:
            self._adam(decoupled=self.name == "adamw")

    def _sgd(self) -> None:
        any_decay, any_momentum = any(self.weight_decay), any(self.momentum)
        for p, state in zip(self.params, self.state, strict=True):
            grad = p.grad
            if any_decay:  # torch: grad.add(param, alpha=weight_decay)
                grad = grad.addcmul(p, self._per_member("weight_decay", self.weight_decay, p))
            if any_momentum:  # a member without momentum gets buf = 0·buf + grad = grad
                buf = state.get("momentum_buffer")
                if buf is None:
                    state["momentum_buffer"] = buf = grad.detach().clone()
                else:
                    buf.mul_(self._per_member("momentum", self.momentum, p)).add_(grad)
                grad = buf
            p.addcmul_(grad, self._per_member("-lr", [-lr for lr in self.lr], p))

    def _adam(self, decoupled: bool) -> None:
        beta1, beta2, step = self.beta1, self.beta2, self.steps
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        any_decay = any(self.weight_decay)
        for p, state in zip(self.params, self.state, strict=True):
            grad = p.grad
            if any_decay and decoupled:  # torch: param.mul_(1 - lr * weight_decay)
                p.mul_(self._per_member("decay", [1 - lr * wd for lr, wd in
                                                  zip(self.lr, self.weight_decay, strict=True)],
                                        p))
            elif any_decay:
                grad = grad.addcmul(p, self._per_member("weight_decay", self.weight_decay, p))
            if not state:
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            # torch: param.addcdiv_(exp_avg, denom, value=-step_size), i.e. (value·t1)/t2
            p.add_(exp_avg.mul(self._step_sizes(bias_correction1, p)).div_(denom))

    # A member's state in and out of its own torch optimizer (torch's state_dict format).

    def _gather(self, optimizers: list[torch.optim.Optimizer]) -> None:
        """Stack the state the members' optimizers hold (loaded from checkpoints, or none)."""
        first = [optimizers[0].state.get(p, {}) for p in _params(optimizers[0])]
        if self.name != "sgd" and first[0]:
            self.steps = int(first[0]["step"])
        for i, p in enumerate(self.params):
            keys = ["momentum_buffer"] if self.name == "sgd" else ["exp_avg", "exp_avg_sq"]
            for key in keys:
                slices = [o.state.get(_params(o)[i], {}).get(key) for o in optimizers]
                if all(s is None for s in slices):
                    continue
                self.state[i][key] = torch.stack(
                    [torch.zeros_like(p[0]) if s is None else s.to(p.dtype) for s in slices])

    def export(self, m: int, optimizer: torch.optim.Optimizer) -> None:
        """Member m's state into its own optimizer, as torch's step would have left it."""
        for i, p in enumerate(_params(optimizer)):
            state = self.state[i]
            if self.name == "sgd":
                if self.momentum[m] and "momentum_buffer" in state:
                    optimizer.state[p] = {"momentum_buffer": state["momentum_buffer"][m].clone()}
            elif state:
                optimizer.state[p] = {
                    "step": torch.tensor(float(self.steps)),
                    "exp_avg": state["exp_avg"][m].clone(),
                    "exp_avg_sq": state["exp_avg_sq"][m].clone(),
                }


def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return optimizer.param_groups[0]["params"]
