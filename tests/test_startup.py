"""Start-up stays short: a run imports only what it uses (speed: scripts/bench/startup.py)."""

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

# torch._dynamo: 1.5 s of a 6 s run, pulled in by torch.optim's first call and by meta
# kernels (trainer/optimizers.MemberOptimizer and models.footprint keep clear of both).
HEAVY = ("sklearn", "scipy", "pandas", "torchvision", "matplotlib", "torch._dynamo")

# Train one regression run in a fresh interpreter, then list the heavy packages it loaded.
PROBE = f"""
import json, sys
from hydra import compose, initialize_config_dir
from pathlib import Path
from trainer.run import run
with initialize_config_dir(config_dir={str(ROOT / "configs")!r}, version_base="1.3"):
    cfg = compose("train", overrides=sys.argv[2:])
assert run(cfg, Path(sys.argv[1]))["status"] == "ok"
print(json.dumps(sorted(({{m.split(".")[0] for m in sys.modules}} | set(sys.modules))
                        & set({HEAVY!r}))))
"""


@pytest.mark.numerics
@pytest.mark.parametrize(("n", "features", "informative", "seed"),
                         [(3000, 20, 10, 0), (50, 5, 5, 7), (10, 3, 1, 2**32 - 1)])
def test_make_regression_draws_what_scikit_learn_draws(n, features, informative, seed):
    ours = make_regression(n, features, informative, seed)
    theirs = sklearn_make_regression(n_samples=n, n_features=features,
                                     n_informative=informative, random_state=seed)
    assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])


def test_a_regression_run_imports_no_scikit_learn_pandas_torchvision_or_dynamo(tmp_path):
    overrides = ["task=regression", "loss=smoothl1", "trainer.max_epochs=1",
                 "trainer.device=cpu", "trainer.progress_bar=false", *TINY_REGRESSION]
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "run"), *overrides],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |     numpy.core
import time:       200 |        300 |   numpy
import time:      1000 |       1300 | torch
import time:        50 |         50 |   tasks.base
import time:       400 |        400 |     sklearn.utils
import time:       100 |        500 |   sklearn
import time:        10 |        560 | tasks
import time:       700 |        700 | torch._dynamo.utils
"""


def test_import_breakdown_charges_each_module_to_the_package_that_pulled_it_in():
    from scripts.bench.startup import import_breakdown

    seconds = import_breakdown(IMPORTTIME)
    assert seconds == pytest.approx({"torch": 0.0013, "sklearn": 0.0005, "lossbench": 0.00006,
                                     "torch._dynamo": 0.0007})


def test_startup_script_times_the_commands_side_by_side(tmp_path):
    out = tmp_path / "startup.json"
    command = "train.py task=regression trainer.max_epochs=1 task.n_train=64 task.n_test=32"
    done = subprocess.run([sys.executable, "-m", "scripts.bench.startup", "--repeats=1",
                           f"--command={command}", f"--json={out}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "main command under -X importtime" in done.stdout
    report = json.loads(out.read_text())
    names = {"import torch", "main command"}
    assert set(report["median_s"]) == set(report["median_cpu_s"]) == names
    assert all(len(report[k][name]) == 1 for k in ("runs_s", "cpu_s") for name in names)
    # Each ratio is against `import torch`'s median, wall to wall and CPU to CPU: a ratio
    # taken against the wrong row or the wrong clock reads as a regression that is not one.
    for ratio, median in (("ratio", "median_s"), ("cpu_ratio", "median_cpu_s")):
        assert set(report[ratio]) == names
        for name in names:
            assert report[median][name] > 0
            assert report[ratio][name] == pytest.approx(
                report[median][name] / report[median]["import torch"])
    breakdown = report["importtime"]["main command"]["by_package_s"]
    assert "torch" in breakdown and "lossbench" in breakdown
    # The regression run keeps clear of dynamo and the heavy data packages (see HEAVY).
    assert not set(breakdown) & set(HEAVY), breakdown
    assert not (ROOT / "outputs").exists() and not (tmp_path / "outputs").exists()
