"""Test metrics per target kind, computed on the whole test set, and which way each of
them is better."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # torch costs a second to import; train.py reads direction() before it
    import torch

# Every metric a task may declare; True where higher is better.
HIGHER_IS_BETTER = {"accuracy": True, "auc": True, "r2": True, "mse": False, "mae": False}


# How each metric scales with the targets' unit: mse by its square, r2 and the rest not.
UNIT_POWER = {"mse": 2, "mae": 1}


def in_units(scores: dict[str, float], scale: float) -> dict[str, float]:
    """`<split>/<metric>` of standardised targets in the targets' own units (`scale`: their
    standard deviation); losses stay as trained."""
    if scale == 1.0:
        return scores
    return {k: v * scale ** UNIT_POWER.get(k.rpartition("/")[2], 0) for k, v in scores.items()}


def higher_is_better(tag: str) -> bool:
    """For a metric name or a logged tag (`test/accuracy`, `val/r2`); losses are lower-better."""
    return HIGHER_IS_BETTER.get(tag.rpartition("/")[2], False)


def direction(tag: str) -> Literal["maximize", "minimize"]:
    """Which way an optimiser should push the metric: `objective.direction`'s default."""
    return "maximize" if higher_is_better(tag) else "minimize"


def compute(
    names: tuple[str, ...], outputs: torch.Tensor, targets: torch.Tensor
) -> dict[str, float]:
    """Model outputs are raw scores: logits for classification, values for regression.
    Computed in torch on the outputs' device (lossbench/torch_metrics.py)."""
    from lossbench import torch_metrics

    return torch_metrics.compute(names, outputs, targets)
