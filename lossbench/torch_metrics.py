"""Test metrics computed in torch, on the device where the outputs are.

scikit-learn's definitions, reproduced so that a run needs neither scikit-learn's import
(about a second, with scipy and pandas) nor a copy of every test output to the host:
the metrics travel back as one small tensor. tests/test_metrics.py checks each against
scikit-learn on random data, ties included. Reached through `lossbench.metrics.compute`,
which imports this module (and so torch) only when a run first evaluates.
"""

from __future__ import annotations

import math

import torch

from lossbench.metrics import HIGHER_IS_BETTER


def compute(
    names: tuple[str, ...], outputs: torch.Tensor, targets: torch.Tensor
) -> dict[str, float]:
    """Model outputs are raw scores: logits for classification, values for regression."""
    out = outputs.detach().double()  # float64: sums over 10,000 samples stay exact enough
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    y = targets.detach()
    values = []
    for name in names:
        if name not in METRICS:
            raise KeyError(f"unknown metric {name!r}; known: {sorted(HIGHER_IS_BETTER)}")
        values.append(METRICS[name](out, y))
    shown = torch.stack(values).tolist() if values else []  # the only copy to the host
    return dict(zip(names, (float(v) for v in shown), strict=True))


def accuracy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Share of correct predictions: argmax of the logits, or logit > 0 for one output."""
    pred = out.argmax(dim=1) if out.ndim == 2 else (out > 0).to(y.dtype)
    return (pred == y).double().mean()


def auc(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """ROC AUC as the Mann-Whitney statistic: tied scores share their average rank, which
    equals the trapezoidal area scikit-learn computes. NaN when the test set holds one
    class (undefined) or a score is not finite (scikit-learn refuses those)."""
    positive = y == 1
    n_pos = positive.sum()
    n_neg = len(y) - n_pos
    order = out.argsort()
    _, counts = torch.unique_consecutive(out[order], return_counts=True)
    ends = counts.cumsum(0).double()  # 1-based rank of each tie group's last member
    ranks = torch.empty_like(out)
    ranks[order] = torch.repeat_interleave(ends - (counts.double() - 1) / 2, counts)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    value = u / (n_pos * n_neg)
    ok = (n_pos > 0) & (n_neg > 0) & torch.isfinite(out).all()
    return torch.where(ok, value, torch.full_like(value, math.nan))


def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (out - y).square().mean()


def mae(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (out - y).abs().mean()


def r2(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 - SS_res / SS_tot; like scikit-learn, 1 for a perfect fit and 0 otherwise when the
    targets are constant, NaN for fewer than two samples."""
    y = y.double()
    ss_res = (y - out).square().sum()
    ss_tot = (y - y.mean()).square().sum()
    value = torch.where(ss_tot > 0, 1 - ss_res / ss_tot.clamp_min(torch.finfo(y.dtype).tiny),
                        (ss_res == 0).double())
    return value if len(y) >= 2 else torch.full_like(value, math.nan)


METRICS = {"accuracy": accuracy, "auc": auc, "mse": mse, "mae": mae, "r2": r2}
