"""Each member's `<split>/<metric>` and `<split>/loss`: `scores` for one member, and
`batched_scores` for every member at once.

Scoring members one by one cost ~1.6 ms each per split on the 2-core CPU (a dozen small
kernels and a host copy each), a third of a 72-member regression sweep's epoch. Here
each metric is one vmap over the members (auc, whose ranks need per-member sorting,
loops), each run of members sharing a loss one vmap of that loss, and all values come
to the host in one copy. The formulas are lossbench/torch_metrics.py's own functions.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import nn
from torch.func import vmap

from lossbench import torch_metrics
from lossbench.metrics import compute

PER_MEMBER = ("auc",)  # data-dependent shapes (unique, boolean indexing): no vmap


def scores(outputs: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module, metrics: tuple[str, ...],
           split: str = "test") -> dict[str, float]:
    """One member's `<split>/<metric>` and `<split>/loss` from its outputs on the whole split."""
    result = {f"{split}/{k}": v for k, v in compute(metrics, outputs, y).items()}
    result[f"{split}/loss"] = loss_fn(outputs, y).item()
    return result


def loss_key(cfg: Any) -> str:
    """Equal for runs with the same loss config: they share one vmap of their loss."""
    return json.dumps(OmegaConf.to_container(cfg.loss, resolve=True), sort_keys=True)


def loss_runs(members: Sequence[Any]) -> list[tuple[int, Any]]:
    """(end, loss) of each run of neighbouring members (engine.member.Member) with the same
    loss config."""
    keys = [loss_key(m.job.cfg) for m in members]
    return [(i + 1, members[i].job.parts.loss_fn) for i, key in enumerate(keys)
            if i + 1 == len(keys) or keys[i + 1] != key]


def batched_scores(outputs: torch.Tensor, targets: Sequence[torch.Tensor],
                   loss_runs: Sequence[tuple[int, Any]], metrics: tuple[str, ...],
                   split: str) -> list[dict[str, float]]:
    """`outputs`: (M, n, ...) for M members; `targets`: each member's (n, ...) targets;
    `loss_runs`: (end, loss) for each run of neighbouring members sharing a loss."""
    y = _stack(targets)
    out = outputs.detach().double()  # as torch_metrics.compute: float64 sums
    if out.ndim == 3 and out.shape[2] == 1:
        out = out[..., 0]
    rows = []
    for name in metrics:  # an unknown name raises: the caller scores member by member
        metric = torch_metrics.METRICS[name]
        if name in PER_MEMBER:
            rows.append(torch.stack([metric(o, t) for o, t in zip(out, y, strict=True)]))
        else:
            rows.append(vmap(metric)(out, y))
    rows.append(member_losses(outputs, y, loss_runs).double())
    values = torch.stack(rows).T.tolist()  # the only copy to the host
    names = [f"{split}/{m}" for m in metrics] + [f"{split}/loss"]
    return [dict(zip(names, map(float, row), strict=True)) for row in values]


def scores_together(test: torch.Tensor, val: torch.Tensor | None, data: Sequence[Any],
                    runs: Sequence[tuple[int, Any]], metrics: tuple[str, ...]
                    ) -> list[dict[str, float]] | None:
    """Every member's test and validation scores in one go (`data`: each member's
    TaskData); None when that fails, and the caller scores member by member, so that one
    member's error is its own."""
    try:
        together = batched_scores(test, [d.y_test for d in data], runs, metrics, "test")
        if val is not None:
            more = batched_scores(val, [d.y_val for d in data], runs, metrics, "val")
            for mine, theirs in zip(together, more, strict=True):
                mine.update(theirs)
    except Exception:
        return None
    return together


def _stack(targets: Sequence[torch.Tensor]) -> torch.Tensor:
    first = targets[0]
    if all(t is first for t in targets):  # members of one dataset: no copies
        return first.expand(len(targets), *first.shape)
    return torch.stack(list(targets))


def member_losses(outputs: torch.Tensor, y: torch.Tensor, loss_runs: Sequence[tuple[int, Any]]
                  ) -> torch.Tensor:
    """Each member's mean loss, (M,): one vmap per run of neighbouring members sharing a
    loss. The population's training step and its scoring both take their losses here."""
    start, parts = 0, []
    with warnings.catch_warnings():  # losses without a batching rule loop instead
        warnings.filterwarnings("ignore", "There is a performance drop")
        for end, loss_fn in loss_runs:
            if end - start == 1:  # one member (a single run): its loss as it is
                parts.append(loss_fn(outputs[start], y[start]).unsqueeze(0))
            else:
                parts.append(vmap(loss_fn)(outputs[start:end], y[start:end]))
            start = end
    return torch.cat(parts)
