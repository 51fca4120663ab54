"""scikit-learn's two interleaved half-moons: a binary task that a linear model cannot solve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import torch

from lossbench import Number, TaskData


@dataclass
class MoonsConfig:
    """Every key has a default: lossbench generates task=two_moons's config from them."""

    name: str = "two_moons"
    n_samples: Annotated[int, Number(low=20, size=True)] = 1000
    noise: Annotated[float, Number(low=0)] = 0.2
    test_fraction: Annotated[float, Number(0, 1, low_open=True, high_open=True)] = 0.25
    data_seed: int = 0
    batch_size: int = 64


class TwoMoons:
    KIND = "binary"
    N_OUTPUTS = 1
    METRICS = ("accuracy", "auc")
    Config = MoonsConfig

    def check(self, cfg: Any) -> None:
        pass  # MoonsConfig says it all

    def build(self, cfg: Any) -> TaskData:
        from sklearn.datasets import make_moons

        x, y = make_moons(cfg.n_samples, noise=cfg.noise, random_state=cfg.data_seed)
        n_test = round(cfg.test_fraction * cfg.n_samples)
        x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y).long()
        return TaskData(kind=self.KIND, n_outputs=1, input_shape=(2,),
                        x_train=x[n_test:], y_train=y[n_test:], x_test=x[:n_test],
                        y_test=y[:n_test], corrupted=torch.zeros(len(y) - n_test, dtype=bool))


TWO_MOONS = TwoMoons()
