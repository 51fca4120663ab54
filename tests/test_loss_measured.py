"""scripts/properties.py measures what each loss is; these are the facts the literature and
the formulas give, so a change to a loss, or to a probe, that breaks one fails here."""

from __future__ import annotations

import subprocess
import sys
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F

from lossbench.contract import Kind
from scripts import properties
from trainer import losses
from trainer.losses.base import Loss, logits_and_index

REPORTS = {name: properties.report(name, properties.defaults(name))
           for name in sorted(losses.LOSSES)}
# Ghosh et al. 2017: symmetric, hence robust to symmetric label noise. MAE and the APL
# family by construction; L1 on probabilities is MAE.
SYMMETRIC = {"mae", "nce", "rce", "nfl", "nce_mae", "nce_rce", "nfl_rce", "l1"}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_loss_is_a_finite_order_free_non_negative_mean_minimised_at_its_target(name):
    for r in REPORTS[name]:
        assert r.finite and r.batch_mean and r.order_free and r.non_negative, (name, r)
        assert r.minimised_at_target and r.pushes_target_up, (name, r)


def test_the_symmetric_losses_are_those_the_papers_name():
    measured = {name for name, rs in REPORTS.items()
                if any(r.symmetric for r in rs if r.kind == "multiclass")}
    assert measured == SYMMETRIC


def test_bounded_and_unbounded_classification_losses():
    multiclass = {name: r.bounded for name, rs in REPORTS.items() for r in rs
                  if r.kind == "multiclass"}
    for name in ("mae", "gce", "nce", "rce", "nfl", "nce_rce", "mse", "l1"):
        assert multiclass[name], name
    for name in ("ce", "nll", "focal", "sce", "multi_margin"):
        assert not multiclass[name], name


def test_regression_influence_grows_for_mse_and_is_capped_for_the_robust_losses():
    influence = {name: r.influence for name, rs in REPORTS.items() for r in rs
                 if r.kind == "regression"}
    assert influence["mse"] == "grows"
    for name in ("l1", "huber", "smoothl1", "logcosh", "quantile"):
        assert influence[name] == "capped", name
    lipschitz = {name: r.lipschitz for name, rs in REPORTS.items() for r in rs
                 if r.kind == "regression"}
    assert lipschitz["mse"] == "grows" and lipschitz["l1"] == pytest.approx(1.0)


class Broken(Loss):
    """A loss that sums instead of averaging, and goes negative: the probes must say so."""

    adapters: ClassVar = {"multiclass": logits_and_index}

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)

    def criterion(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(z, y, reduction="sum") - 3.0


def test_the_probes_catch_a_sum_and_a_negative_value():
    r = properties.measure(Broken("multiclass").double(), "multiclass")
    assert not r.batch_mean and not r.non_negative
    assert "not a mean" in r.short() and "negative" in r.short()


def test_soft_margin_stays_finite_where_torchs_overflows():
    z, t = torch.tensor([-100.0, 100.0]), torch.tensor([1, 0])
    loss = losses.build({"name": "soft_margin"}, "binary")
    assert torch.nn.SoftMarginLoss()(z, 2 * t.float() - 1).isinf()  # torch's, as written
    assert loss(z[:, None], t).item() == pytest.approx(100.0)


def test_the_command_prints_a_table_and_refuses_a_bad_call_in_one_line():
    root = properties.__file__.rsplit("/scripts/", 1)[0]
    done = subprocess.run([sys.executable, "-m", "scripts.properties", "loss=gce", "loss.q=1.0"],
                          capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr
    assert "| symmetric | no |" not in done.stdout  # q = 1: GCE is 1 − p_y, symmetric
    assert "| symmetric | yes |" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "scripts.properties", "loss=nope"],
                         capture_output=True, text=True, cwd=root)
    assert bad.returncode == 2 and bad.stderr.startswith("error: loss='nope' is not a known")
    assert len(bad.stderr.strip().splitlines()) == 1
