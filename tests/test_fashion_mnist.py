"""Real data: Fashion-MNIST from Debian's dataset-fashion-mnist package, offline."""

from __future__ import annotations

import os

import pytest

from tasks import idx
from trainer.run import run

PACKAGE = idx.debian_fashion_mnist_dir()
# CI installs the package and sets this, so a missing package fails there instead of skipping.
REQUIRED = os.environ.get("LOSSBENCH_REQUIRE_FASHION") == "1"


@pytest.mark.skipif(PACKAGE is None and not REQUIRED,
                    reason="apt-get install dataset-fashion-mnist to run the real-data test")
def test_mlp_with_ce_reaches_084_in_two_epochs(make_cfg, tmp_path):
    assert PACKAGE is not None, "dataset-fashion-mnist is not installed"
    cfg = make_cfg("task=fashion_mnist", "loss=ce", "model=mlp", f"task.data_dir={tmp_path}",
                   "task.download=false")
    record = run(cfg, tmp_path / "run")
    data = record["data"]
    assert (data["n_train"], data["n_val"], data["n_test"]) == (54000, 6000, 10000)
    # scikit-learn's LogisticRegression scores 0.842 in the Fashion-MNIST paper.
    assert record["final"]["test/accuracy"] >= 0.84
