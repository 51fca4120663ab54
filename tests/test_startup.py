"""Start-up stays short: a run imports only what it uses (speed itself: scripts/startup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, TINY_REGRESSION
from sklearn.datasets import make_regression as sklearn_make_regression

from tasks.regression import make_regression

HEAVY = ("sklearn", "scipy", "pandas", "torchvision", "matplotlib")

# Train one regression run in a fresh interpreter, then list the heavy packages it loaded.
PROBE = f"""
import json, sys
from hydra import compose, initialize_config_dir
from pathlib import Path
from trainer.run import run
with initialize_config_dir(config_dir={str(ROOT / "configs")!r}, version_base="1.3"):
    cfg = compose("train", overrides=sys.argv[2:])
assert run(cfg, Path(sys.argv[1]))["status"] == "ok"
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))))
"""


@pytest.mark.parametrize(("n", "features", "informative", "seed"),
                         [(3000, 20, 10, 0), (50, 5, 5, 7), (10, 3, 1, 2**32 - 1)])
def test_make_regression_draws_what_scikit_learn_draws(n, features, informative, seed):
    ours = make_regression(n, features, informative, seed)
    theirs = sklearn_make_regression(n_samples=n, n_features=features,
                                     n_informative=informative, random_state=seed)
    assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])


def test_a_regression_run_imports_no_scikit_learn_pandas_or_torchvision(tmp_path):
    overrides = ["task=regression", "loss=smoothl1", "trainer.max_epochs=1",
                 "trainer.device=cpu", "trainer.progress_bar=false", *TINY_REGRESSION]
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "run"), *overrides],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
