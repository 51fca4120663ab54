"""Draw every configured loss and its derivative, computed by the project's own loss code.

    python -m scripts.gen.loss_shapes [--out docs]

Regression losses are drawn against the error ŷ − y; classification losses
against the probability the model gives the true class. Derivatives come from
autograd through the same `trainer.losses` objects the trainer uses, so the
pictures cannot drift from the code.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from trainer import losses, schemas

ROOT = Path(__file__).resolve().parents[2]

N_CLASSES = 10


def configured_losses() -> dict[str, dict]:
    return {name: schemas.option_values("loss", name) for name in sorted(losses.LOSSES)}


def regression_curve(cfg: dict, errors: torch.Tensor) -> tuple[list[float], list[float]]:
    """Loss and d(loss)/d(error), one sample at a time (the losses average over a batch)."""
    loss_fn = losses.build(cfg, "regression")
    values, slopes = [], []
    for e in errors:
        pred = e.clone().reshape(1).requires_grad_(True)
        loss = loss_fn(pred, torch.zeros(1))
        loss.backward()
        values.append(loss.item())
        slopes.append(pred.grad.item())
    return values, slopes


def classification_logits(p: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits under which the true class (0, or 1 for binary) has probability p."""
    if kind == "binary":
        return torch.log(p / (1 - p)).reshape(1, 1), torch.tensor([1])
    rest = torch.log((1 - p) / (N_CLASSES - 1)).expand(N_CLASSES - 1)
    return torch.cat([torch.log(p).reshape(1), rest]).reshape(1, -1), torch.tensor([0])


def classification_curve(cfg: dict, kind: str, probs: torch.Tensor
                         ) -> tuple[list[float], list[float]]:
    loss_fn = losses.build(cfg, kind)
    values, slopes = [], []
    for p in probs:
        leaf = p.clone().requires_grad_(True)
        logits, target = classification_logits(leaf, kind)
        loss = loss_fn(logits, target)
        loss.backward()
        values.append(loss.item())
        slopes.append(leaf.grad.item())
    return values, slopes


def draw(curves: dict[str, tuple[list[float], list[float]]], x: torch.Tensor, xlabel: str,
         title: str, path: Path, ylims: tuple[tuple[float, float], ...]) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 4.4), layout="constrained")
    styles = ["-", "--", ":", "-."]  # curves that coincide (huber/smoothl1 at 1) stay visible
    for i, (name, (values, slopes)) in enumerate(curves.items()):
        style = {"label": name, "linestyle": styles[i % len(styles)], "lw": 1.6}
        left.plot(x, values, **style)
        right.plot(x, slopes, **style)
    left.set(xlabel=xlabel, ylabel="loss", title=f"{title}: loss")
    right.set(xlabel=xlabel, ylabel=f"d loss / d ({xlabel.split(' ')[0]})",
              title=f"{title}: derivative")
    left.set_ylim(*ylims[0])
    right.set_ylim(*ylims[1])
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.axhline(0, color="black", lw=0.5)
    fig.legend(*left.get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    errors = torch.linspace(-4, 4, 321)
    probs = torch.linspace(0.01, 0.99, 197)
    regression, classification = {}, {}
    for name, cfg in configured_losses().items():
        kinds = losses.lookup(cfg["name"]).adapters
        if "regression" in kinds:
            regression[name] = regression_curve(cfg, errors)
        # Distance losses also read classes (softmax vs one-hot): drawn in both figures.
        if "multiclass" in kinds:
            classification[name] = classification_curve(cfg, "multiclass", probs)
        elif "binary" in kinds:
            classification[f"{name} (binary)"] = classification_curve(cfg, "binary", probs)
    draw(regression, errors, "error ŷ − y", "Regression losses",
         args.out / "loss_shapes_regression.png", ylims=((0, 8), (-5, 5)))
    draw(classification, probs, "p (probability of the true class)",
         f"Classification losses ({N_CLASSES} classes)",
         args.out / "loss_shapes_classification.png", ylims=((0, 5), (-10, 1)))
    print(f"wrote {args.out / 'loss_shapes_regression.png'} and "
          f"{args.out / 'loss_shapes_classification.png'}")


if __name__ == "__main__":
    main()
