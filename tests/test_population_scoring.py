"""Population scoring: every member's scores at once equal scoring.scores member by member."""

from __future__ import annotations

from itertools import accumulate, groupby
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

from trainer import losses
from trainer.engine.scoring import batched_scores, loss_runs, member_losses, scores

pytestmark = pytest.mark.numerics  # tests/numerics.py


def _members(kind: str, names: list[str], shared_targets: bool, n: int = 300):
    torch.manual_seed(0)
    m = len(names)
    if kind == "multiclass":
        outputs = torch.randn(m, n, 10)
        targets = [torch.randint(0, 10, (n,)) for _ in range(m)]
        metrics = ("accuracy",)
    elif kind == "binary":
        outputs = torch.randn(m, n, 1).round(decimals=1)  # ties, which auc ranks share
        targets = [torch.randint(0, 2, (n,)).float() for _ in range(m)]
        metrics = ("accuracy", "auc")
    else:
        outputs = torch.randn(m, n, 1) * 3
        targets = [torch.randn(n) for _ in range(m)]
        metrics = ("mse", "mae", "r2")
    if shared_targets:
        targets = [targets[0]] * m
    fns = [losses.build({"name": name}, kind) for name in names]
    # Written apart from scoring.loss_runs: groupby's runs of equal names, ended cumulatively.
    ends = list(accumulate(len(list(group)) for _, group in groupby(names)))
    runs = [(end, fns[end - 1]) for end in ends]
    return outputs, targets, fns, runs, metrics


@pytest.mark.parametrize(("kind", "names"), [
    ("multiclass", ["ce", "ce", "gce", "sce", "sce", "mae"]),
    ("binary", ["bce", "bce", "focal"]),
    ("regression", ["l1", "mse", "mse", "huber", "smoothl1", "logcosh"]),
])
@pytest.mark.parametrize("shared_targets", [True, False])
def test_batched_scores_equal_each_members_own(kind, names, shared_targets):
    outputs, targets, fns, runs, metrics = _members(kind, names, shared_targets)
    together = batched_scores(outputs, targets, runs, metrics, "val")
    assert len(together) == len(names)
    for i, fn in enumerate(fns):
        alone = scores(outputs[i], targets[i], fn, metrics, split="val")
        assert together[i].keys() == alone.keys()
        assert together[i] == pytest.approx(alone, rel=1e-6, abs=1e-9)


def test_a_non_finite_member_gets_its_own_nan_and_the_others_their_numbers():
    outputs, targets, fns, runs, metrics = _members("regression", ["mse", "mse"], False)
    outputs[1, 5] = float("nan")
    together = batched_scores(outputs, targets, runs, metrics, "test")
    assert all(v != v for v in together[1].values())  # NaN everywhere for member 1
    assert together[0] == pytest.approx(scores(outputs[0], targets[0], fns[0], metrics))


def test_loss_runs_split_members_where_the_loss_config_changes():
    def member(name: str, **params: float) -> SimpleNamespace:
        cfg = OmegaConf.create({"loss": {"name": name, **params}})
        return SimpleNamespace(job=SimpleNamespace(cfg=cfg, parts=SimpleNamespace(
            loss_fn=(name, tuple(params.items())))))

    members = [member("mse"), member("mse"), member("huber", delta=1.0),
               member("huber", delta=2.0), member("huber", delta=2.0), member("mse")]
    assert loss_runs(members) == [(2, ("mse", ())), (3, ("huber", (("delta", 1.0),))),
                                  (5, ("huber", (("delta", 2.0),))), (6, ("mse", ()))]


@pytest.mark.parametrize("kind,names", [("multiclass", ["ce", "ce", "gce", "mae"]),
                                        ("regression", ["mse", "l1", "l1", "huber"])])
def test_member_losses_equal_a_plain_loop_over_members(kind, names):
    outputs, targets, fns, runs, _ = _members(kind, names, shared_targets=False, n=50)
    together = member_losses(outputs, torch.stack(targets), runs)
    alone = torch.stack([fn(o, t) for fn, o, t in zip(fns, outputs, targets, strict=True)])
    torch.testing.assert_close(together, alone, rtol=1e-6, atol=1e-7)
