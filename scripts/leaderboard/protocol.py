"""The leaderboard's grid: which tasks, corruptions, losses, learning rates, seeds and budget.

Every loss that accepts a task's target kind runs in every setting of that task, at every
learning rate of the grid, for every seed, with the same budget (model, epochs, batches per
epoch). A seed fixes the data split, the noise draw and the initial weights (`data_seed`
follows `seed`), so runs of two losses with one seed are paired. The learning rate is then
chosen per setting × loss on validation (tables.py); the test set plays no part in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainer.losses import LOSSES


@dataclass(frozen=True)
class Sweep:
    """One `python train.py -m` launch: a task with its budget and some of its settings."""

    name: str                  # folder of the sweep under the runs dir
    task: str
    kind: str                  # multiclass, binary, regression
    budget: tuple[str, ...]    # overrides every run of the sweep shares
    settings: tuple[str, ...]  # swept setting overrides, e.g. task.label_noise=0,0.4,0.6
    weight: float              # rough cost of one run, for the time-left estimate


@dataclass(frozen=True)
class Protocol:
    name: str
    sweeps: tuple[Sweep, ...]
    seeds: tuple[int, ...]
    lrs: tuple[float, ...]
    published: bool  # also run the models that sit beside the Fashion-MNIST paper's table


def losses_for(kind: str) -> list[str]:
    """Every built-in loss that accepts the kind (plugins are compared with --baseline)."""
    # ce on one binary logit is bce_logits to rounding: the binary grid runs it once.
    return [name for name, cls in LOSSES.items()
            if kind in cls.adapters and not (kind == "binary" and name == "ce")]


# The image tasks train 50 batches of 64 per epoch: every loss sees the same 3,200 samples an
# epoch, and a full grid fits in an hour on two CPU cores. MLP 784-100-10: the Fashion-MNIST
# paper's MLPClassifier [100], and small enough (79,400 multiply-adds) to train in populations
# on the CPU.
MODEL = ("model=mlp", "model.hidden_sizes=[100]")
IMAGES = (*MODEL, "task.download=false", "trainer.limit_train_batches=50")
# Binary: T-shirt/top (0) against shirt (6), Fashion-MNIST's most confused pair; MNIST's own
# files cannot be downloaded everywhere, Fashion-MNIST ships with Debian.
SHIRTS = ("task.source=fashion_mnist", "task.positive=[6]", "task.negative=[0]")
SYMMETRIC = "task.label_noise=0,0.4,0.6"
ASYMMETRIC = ("task.noise_type=asymmetric", "task.label_noise=0.4")


def _multiclass(task: str, budget: tuple[str, ...], weight: float) -> tuple[Sweep, Sweep]:
    return (Sweep(f"{task}-symmetric", task, "multiclass", budget, (SYMMETRIC,), weight),
            Sweep(f"{task}-asymmetric", task, "multiclass", budget, ASYMMETRIC, weight))


def _grid(image_epochs: int, digits_epochs: int, regression_epochs: int) -> tuple[Sweep, ...]:
    images = (*IMAGES, f"trainer.max_epochs={image_epochs}")
    return (
        *_multiclass("fashion_mnist", images, 3.0 * image_epochs),
        *_multiclass("digits", (*MODEL, f"trainer.max_epochs={digits_epochs}"),
                     0.3 * digits_epochs),
        Sweep("mnist_binary", "mnist_binary", "binary", (*images, *SHIRTS),
              ("task.label_noise=0,0.3",), 2.0 * image_epochs),
        Sweep("regression", "regression", "regression",
              (*MODEL, f"trainer.max_epochs={regression_epochs}"),
              ("task.outlier_fraction=0,0.1,0.3",), 0.3 * regression_epochs),
    )


def _tables(epochs: int) -> tuple[Sweep, ...]:
    """scikit-learn's real tables, beside the image and synthetic tasks. Asymmetric noise is
    defined for ten classes and binary tasks only, so wine gets symmetric noise alone."""
    budget = (*MODEL, f"trainer.max_epochs={epochs}")
    return (Sweep("wine", "wine", "multiclass", budget, (SYMMETRIC,), 0.05 * epochs),
            Sweep("breast_cancer", "breast_cancer", "binary", budget,
                  ("task.label_noise=0,0.3",), 0.05 * epochs),
            Sweep("diabetes", "diabetes", "regression", budget,
                  ("task.outlier_fraction=0,0.1,0.3",), 0.05 * epochs))


FULL = Protocol("full", (*_grid(5, 20, 10), *_tables(30)), seeds=(0, 1, 2, 3, 4),
                lrs=(1e-3, 3e-3, 1e-2), published=True)
# The tests' variant: the small tasks only, two seeds, two learning rates, few epochs.
QUICK = Protocol("quick", tuple(s for s in _grid(1, 3, 3) if s.task in ("digits", "regression")
                                and s.name != "digits-asymmetric"),
                 seeds=(0, 1), lrs=(1e-3, 1e-2), published=False)
PROTOCOLS = {p.name: p for p in (FULL, QUICK)}

# Beside Xiao et al. (2017)'s Table 3 (scikit-learn on Fashion-MNIST), by its row: clean
# Fashion-MNIST, the whole training set, 10 epochs, 3 seeds. Multi-class hinge on a linear
# model stands beside SGDClassifier(loss="hinge") (one-vs-rest hinge in scikit-learn).
PUBLISHED_MODELS = {
    "LogisticRegression C=1": ("model=linear", "loss=ce"),
    "MLPClassifier relu [100]": (*MODEL, "loss=ce"),
    "MLPClassifier relu [10]": ("model=mlp", "model.hidden_sizes=[10]", "loss=ce"),
    "SGDClassifier hinge": ("model=linear", "loss=multi_margin"),
}
PUBLISHED_VALUES = {"LogisticRegression C=1": 0.842, "MLPClassifier relu [100]": 0.871,
                    "MLPClassifier relu [10]": 0.848, "SGDClassifier hinge": 0.819}
PUBLISHED_BUDGET = ("task=fashion_mnist", "task.download=false", "trainer.max_epochs=10",
                    "optim.lr=1e-3", "seed=0,1,2")


def published_folder(name: str) -> str:
    return "published-" + "".join(ch for ch in name.lower() if ch.isalnum())


def runs_in(protocol: Protocol, sweep: Sweep) -> int:
    settings = 1
    for text in sweep.settings:
        settings *= len(text.split("=", 1)[1].split(","))
    return settings * len(losses_for(sweep.kind)) * len(protocol.seeds) * len(protocol.lrs)
