"""Published numbers beside lossbench's, each with its source and setting, and what differs."""

from __future__ import annotations

import pandas as pd

from scripts.leaderboard import protocol
from scripts.leaderboard.tables import Cell
from scripts.reporting import stats

# dmizr/phuber's README (ReScience C 2021, reproducing Menon et al., ICLR 2020): MNIST,
# LeNet-5, symmetric noise ρ, test accuracy in %.
PHUBER = {"ce": {0.0: 99.1, 0.2: 98.8, 0.4: 98.6, 0.6: 98.0},
          "gce": {0.0: 98.8, 0.2: 98.7, 0.4: 98.5, 0.6: 98.1}}


def _ci(values: pd.Series) -> str:
    ci = stats.mean_ci(values.tolist())
    if ci.n == 0:
        return "—"
    return f"{ci.mean:.4f} ± {(ci.high - ci.low) / 2:.4f} ({ci.n} seeds)" if ci.n > 1 \
        else f"{ci.mean:.4f} (one seed)"


def xiao(results: pd.DataFrame, found: list[Cell]) -> list[str]:
    rows = ["| Xiao et al. (2017), Table 3 | published | lossbench | lossbench model, loss |",
            "|---|---|---|---|"]
    for name, overrides in protocol.PUBLISHED_MODELS.items():
        runs = results[(results.sweep == protocol.published_folder(name))
                       & (results.status == "ok")]
        given = " ".join(o for o in overrides)
        rows.append(f"| {name} | {protocol.PUBLISHED_VALUES[name]:.3f} | "
                    f"{_ci(runs['selected/test/accuracy'])} | `{given}` |")
    clean = [c for c in found if c.task == "fashion_mnist" and c.setting == "clean"
             and c.interval is not None]
    best = max(clean, key=lambda c: c.interval.mean, default=None)
    if best is not None:
        rows.append(f"| (the leaderboard's best, clean) | — | {_ci(pd.Series(best.scores))} "
                    f"| `{best.loss}`, lr {best.lr:g}, the grid's budget |")
    return ["### Fashion-MNIST: Xiao et al. (2017), arXiv:1708.07747, Table 3", "",
            "scikit-learn models on the full training set (60,000 images) against lossbench "
            "on 54,000 (10 % held out for validation), 10 epochs of Adam (lr 1e-3, batch 64), "
            "test accuracy at the epoch selected on validation, same 10,000 test images. "
            "SGDClassifier's hinge is one-vs-rest; lossbench's `multi_margin` is torch's "
            "MultiMarginLoss (Weston and Watkins: a hinge per wrong class, averaged). The "
            "leaderboard's own row trains 50 batches an epoch for 5 epochs only.", "",
            *rows, ""]


def phuber(found: list[Cell]) -> list[str]:
    ours = {(c.loss, c.setting): c for c in found if c.task == "fashion_mnist"}
    rows = ["| loss | ρ | published (MNIST, LeNet-5) | lossbench (Fashion-MNIST, MLP [100]) |",
            "|---|---|---|---|"]
    for loss, by_rate in PHUBER.items():
        for rate, value in by_rate.items():
            setting = "clean" if rate == 0 else f"symmetric {rate:g}"
            cell = ours.get((loss, setting))
            text = _ci(pd.Series(cell.scores)) if cell and cell.scores else \
                "not in the grid"
            rows.append(f"| {loss} | {rate:g} | {value / 100:.3f} | {text} |")
    return ["### Noisy-label MNIST: the phuber reproduction (dmizr/phuber, ReScience C 2021)",
            "", "Its README's table for Menon et al. (ICLR 2020): LeNet-5 on MNIST with "
            "symmetric label noise ρ. MNIST's files cannot be downloaded on the machine that "
            "ran this leaderboard, so lossbench's column is Fashion-MNIST, the nearest "
            "setting it has: a harder data set (lower accuracies throughout), an MLP [100] "
            "instead of LeNet-5, and the grid's short budget. Compare how much each loss "
            "loses as ρ grows, not the levels. ρ = 0.2 is not in the grid.", "", *rows, ""]


def section(results: pd.DataFrame, found: list[Cell]) -> list[str]:
    out = ["## Published numbers side by side", ""]
    if results.sweep.astype(str).str.startswith("published").any():
        out += xiao(results, found)
    if any(c.task == "fashion_mnist" for c in found):
        out += phuber(found)
    return out if len(out) > 2 else []
