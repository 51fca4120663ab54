"""report --baseline: a sweep paired with stored runs of other losses, by everything but the
loss; refused, naming the key, when the runs differ in more."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT, TINY_REGRESSION, train_cli

GRID = ["-m", "task=regression", "seed=0,1,2", "trainer.max_epochs=2", *TINY_REGRESSION]


def report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), *args],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    root = tmp_path_factory.mktemp("baseline")
    for name, extra in (("base", ["loss=mse,huber"]), ("mine", ["loss=l1"]),
                        ("longer", ["loss=l1", "trainer.max_epochs=3"])):
        done = train_cli(*GRID, *extra, f"hydra.sweep.dir={root / name}")
        assert done.returncode == 0, done.stderr
    assert report(str(root / "base")).returncode == 0  # writes base/report/results.csv
    return root


def test_a_sweep_is_compared_with_baseline_losses_it_did_not_rerun(sweeps):
    done = report(str(sweeps / "mine"), "--baseline", str(sweeps / "base" / "report" /
                                                         "results.csv"), "--reference", "mse")
    assert done.returncode == 0, done.stderr
    assert "9 runs: 9 ok." in done.stdout
    paired = pd.read_csv(sweeps / "mine" / "report" / "comparisons.csv")
    assert set(paired.loss) == {"l1", "huber"} and set(paired.reference) == {"mse"}
    assert set(paired.n) == {3}
    results = pd.read_csv(sweeps / "mine" / "report" / "results.csv")
    assert sorted(results.loss) == ["huber"] * 3 + ["l1"] * 3 + ["mse"] * 3
    assert results.run.str.startswith("baseline:").sum() == 6
    # a sweep dir works as well as its results.csv
    again = report(str(sweeps / "mine"), "--baseline", str(sweeps / "base"),
                   "--reference", "mse")
    assert again.returncode == 0 and "9 runs: 9 ok." in again.stdout


def test_a_key_that_differs_refuses_the_pairing_in_one_line(sweeps):
    done = report(str(sweeps / "longer"), "--baseline", str(sweeps / "base"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "trainer.max_epochs is 3 in yours and 2 in the baseline's" in lines[0]
    assert not (sweeps / "longer" / "report").exists()


def test_a_baseline_from_another_environment_is_paired_with_a_warning(sweeps, tmp_path):
    table = pd.read_csv(sweeps / "base" / "report" / "results.csv")
    table["env/torch"] = "2.0.0"
    table.to_csv(tmp_path / "results.csv", index=False)
    done = report(str(sweeps / "mine"), "--baseline", str(tmp_path / "results.csv"))
    assert done.returncode == 0, done.stderr
    assert "## Warning: these runs do not share one environment" in done.stdout
    assert "- torch: " in done.stdout and "2.0.0 (6 runs)" in done.stdout


def test_a_missing_baseline_is_one_line(sweeps, tmp_path):
    done = report(str(sweeps / "mine"), "--baseline", str(tmp_path / "nope.csv"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: --baseline {tmp_path / 'nope.csv'}: no such file " \
                                  "or folder."
