"""Label noise for every classification task: flipped training labels, drawn from the data seed.

`label_noise` is a fraction in [0, 1); the test labels are never touched.

- symmetric: that fraction of all training labels, chosen at random, each
  moved to one of the other classes chosen uniformly.
- symmetric_exact: exactly ⌊fraction · n_c⌋ labels of each class c, chosen
  at random, each moved to one of the other classes chosen uniformly: the
  per-class count is fixed, as in the noisy-label papers' code (APL's flips
  ⌊⌊fraction · n⌋ / C⌋ per class, the same count for every class).
- asymmetric: the class-conditional flips of the noisy-label literature for
  ten classes (Patrini et al. 2017; Zhang & Sabuncu 2018): 7→1, 2→7, 5↔6,
  3→8. That fraction of each of those classes is flipped, so fewer than
  `label_noise` of all labels change. Binary tasks flip positives to negative
  (one-sided noise, as a rater who misses cases). For Fashion-MNIST the same
  class indices are used: they are not look-alike pairs there.

The realised share of flipped training labels goes into `TaskData.info`
as `label_noise`, and `corrupted` marks the flipped samples. `tasks.get`
wraps every classification task in `tasks.Extended` with `NoiseConfig` and `apply`, so no
task applies it by hand.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch
from omegaconf import MISSING, DictConfig

from lossbench.contract import TaskData
from lossbench.errors import require
from lossbench.schema import Number, OneOf

NOISE_TYPES = ("symmetric", "symmetric_exact", "asymmetric")
# Class → the class its labels are flipped to, by number of classes.
ASYMMETRIC: dict[int, dict[int, int]] = {10: {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}, 2: {1: 0}}


@dataclass
class NoiseConfig:
    """The label-noise keys every classification task's config has."""

    label_noise: Annotated[float, Number(0, 1, high_open=True, noun="a fraction")] = MISSING
    noise_type: Annotated[str, OneOf(NOISE_TYPES)] = MISSING




def flip(y: torch.Tensor, n_classes: int, fraction: float, noise_type: str, seed: int
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy labels and the mask of those that changed."""
    rng = np.random.default_rng(seed)
    clean = y.numpy()
    noisy = clean.copy()
    if noise_type == "symmetric":
        chosen = rng.choice(len(clean), size=round(fraction * len(clean)), replace=False)
        # A shift of 1 to C−1 classes, uniform: every other class equally likely.
        noisy[chosen] = (clean[chosen] + rng.integers(1, n_classes, size=len(chosen))) % n_classes
    elif noise_type == "symmetric_exact":
        for c in range(n_classes):
            members = np.flatnonzero(clean == c)
            chosen = rng.choice(members, size=exact_count(fraction, len(members)), replace=False)
            noisy[chosen] = (c + rng.integers(1, n_classes, size=len(chosen))) % n_classes
    else:
        require(n_classes in ASYMMETRIC, "task.noise_type", noise_type,
                f"asymmetric noise is defined for {sorted(ASYMMETRIC)} classes, not {n_classes}")
        for source, target in ASYMMETRIC[n_classes].items():
            members = np.flatnonzero(clean == source)  # clean labels: 5↔6 must not flip twice
            chosen = rng.choice(members, size=round(fraction * len(members)), replace=False)
            noisy[chosen] = target
    return torch.as_tensor(noisy, dtype=y.dtype), torch.as_tensor(noisy != clean)


def exact_count(fraction: float, n: int) -> int:
    """⌊fraction · n⌋, without float error: 0.29 · 100 is 28.999999999999996 in binary."""
    return math.floor(round(fraction * n, 9))


def apply(data: TaskData, cfg: DictConfig) -> TaskData:
    """`data` with `cfg.label_noise` of its training labels flipped as `cfg.noise_type` says."""
    n_classes = 2 if data.kind == "binary" else data.n_outputs
    y, flipped = flip(data.y_train, n_classes, cfg.label_noise, cfg.noise_type, cfg.data_seed)
    share = float(flipped.float().mean()) if len(flipped) else 0.0
    return dataclasses.replace(data, y_train=y, corrupted=flipped, clean_y_train=data.y_train,
                               corruption="label_noise", info={**data.info, "label_noise": share})
