"""Test metrics per target kind, computed by scikit-learn on the whole test set, and which
way each of them is better."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # torch costs a second to import; train.py reads direction() before it
    import torch

# Every metric a task may declare; True where higher is better.
HIGHER_IS_BETTER = {"accuracy": True, "auc": True, "r2": True, "mse": False, "mae": False}


def higher_is_better(tag: str) -> bool:
    """For a metric name or a logged tag (`test/accuracy`, `val/r2`); losses are lower-better."""
    return HIGHER_IS_BETTER.get(tag.rpartition("/")[2], False)


def direction(tag: str) -> Literal["maximize", "minimize"]:
    """Which way an optimiser should push the metric: `objective.direction`'s default."""
    return "maximize" if higher_is_better(tag) else "minimize"


def compute(
    names: tuple[str, ...], outputs: torch.Tensor, targets: torch.Tensor
) -> dict[str, float]:
    """Model outputs are raw scores: logits for classification, values for regression."""
    from sklearn import metrics as skm  # 1-2 s of imports (scipy): not before the first step

    out = outputs.float().cpu().numpy()
    y = targets.cpu().numpy()
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    results = {}
    for name in names:
        if name == "accuracy":
            pred = out.argmax(axis=1) if out.ndim == 2 else (out > 0).astype(y.dtype)
            results[name] = skm.accuracy_score(y, pred)
        elif name == "auc":
            # AUC is undefined when the test set holds a single class.
            results[name] = skm.roc_auc_score(y, out) if len(set(y.tolist())) == 2 else math.nan
        elif name == "mse":
            results[name] = skm.mean_squared_error(y, out)
        elif name == "mae":
            results[name] = skm.mean_absolute_error(y, out)
        elif name == "r2":
            results[name] = skm.r2_score(y, out)
        else:
            raise KeyError(f"unknown metric {name!r}; known: {sorted(HIGHER_IS_BETTER)}")
    return {k: float(v) for k, v in results.items()}
