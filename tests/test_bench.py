"""Benchmark scripts and the joblib launcher: smoke runs on tiny data, never wall-clock checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
from conftest import ROOT, compose_cfg

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """python -m scripts.bench.<name>, run outside the checkout as a user may."""
    done = subprocess.run([sys.executable, "-m", f"scripts.bench.{name}", *args], cwd=cwd,
                          capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_bench_prints_its_table_and_writes_json(data_dir, tmp_path):
    out = tmp_path / "bench.json"
    done = script("bench", f"--data-dir={data_dir}", "--steps=2", "--repeats=1",
                  "--warmup-steps=1", f"--json={out}", cwd=tmp_path)
    for row in ("| classic", "| trainer ", "| trainer-", "| bare", "trainer/bare",
                "trainer/classic", "data load: IDX parse"):
        assert row in done.stdout
    report = json.loads(out.read_text())
    assert {"cpu", "cores", "torch", "device", "loadavg_start"} <= set(report["machine"])
    results = report["results"]
    assert set(results["samples_per_s"]) == {"classic", "trainer", "trainer-", "bare"}
    assert all(rate > 0 for rate in results["samples_per_s"].values())
    assert {"trainer/bare", "trainer/classic"} <= set(results["ratios"])
    assert results["samples_per_run"] == 2 * 64
    assert results["load"]["cache_load_s"] is not None  # the task wrote the cache


def test_whole_command_runs_train_py_and_the_classic_script(data_dir, tmp_path):
    out = tmp_path / "whole.json"
    done = script("bench", "--whole-command", f"--data-dir={data_dir}", "--epochs=1",
                  "--steps=2", "--repeats=1", "--warmup-rounds=0", f"--json={out}", cwd=tmp_path)
    assert "classic/train.py wall time" in done.stdout
    report = json.loads(out.read_text())
    assert set(report["results"]["median_s"]) == {"train.py", "classic_mnist.py"}
    assert all(0 <= a <= 1 for a in report["results"]["accuracy"].values())
    assert "trainer.max_epochs=1" in report["commands"]["train.py"]
    assert not list(tmp_path.glob("outputs")) and not (ROOT / "outputs").exists()


def test_joblib_launcher_composes():
    cfg = compose_cfg("hydra/launcher=joblib", hydra=True)
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")
    assert cfg.hydra.launcher.n_jobs == -1


APP = '''
import os
from pathlib import Path
import hydra
from hydra.core.hydra_config import HydraConfig

@hydra.main(version_base="1.3", config_path=None, config_name=None)
def main(cfg):
    import torch
    out = Path(HydraConfig.get().runtime.output_dir) / "threads"
    out.write_text(f"{torch.get_num_threads()} {os.getpid()}")

main()
'''


def test_joblib_workers_cap_torch_threads(tmp_path):
    """loky starts workers with OMP_NUM_THREADS = cores // n_jobs; torch follows it."""
    (tmp_path / "app.py").write_text(APP)
    env = {k: v for k, v in ENV.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, "app.py", "-m", "hydra/launcher=joblib",
                           "hydra.launcher.n_jobs=2", "+x=1,2", "hydra.sweep.dir=sweep"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = [p.read_text().split() for p in sorted((tmp_path / "sweep").glob("*/threads"))]
    assert len(seen) == 2
    assert {int(threads) for threads, _ in seen} == {max(joblib.cpu_count() // 2, 1)}
    assert str(os.getpid()) not in {pid for _, pid in seen}  # jobs ran in worker processes


def test_a_joblib_sweep_of_train_py_runs_next_to_a_basic_one(tmp_path):
    out = tmp_path / "sweep.json"
    done = script("bench_sweep", "--repeats=1", "--n-jobs=2", f"--json={out}",
                  "--sweep", "task=regression",
                  "loss=l1,mse", "trainer.device=cpu", "--extra", "task.n_train=64",
                  "task.n_test=32", "trainer.max_epochs=1", cwd=tmp_path)
    assert "joblib/basic runs per minute" in done.stdout
    report = json.loads(out.read_text())
    assert report["runs_ok"] == {"basic": [2], "joblib": [2]}
    assert report["runs"] == 2 and set(report["runs_per_min"]) == {"basic", "joblib"}
