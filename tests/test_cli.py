"""train.py as users run it: one clear line for mistakes, sweeps that go on, the debug config."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import QUICK, TINY_REGRESSION, assert_one_clear_line, train_cli
from conftest import QUICK_REGRESSION as REG


def test_incompatible_pair_in_a_single_run(tmp_path):
    result = train_cli("task=regression", "loss=ce", f"hydra.run.dir={tmp_path}", *REG)
    assert_one_clear_line(result, "task=regression", "loss=ce",
                          "barron, huber, l1, logcosh, mse, quantile, smoothl1")


def test_value_out_of_range(tmp_path):
    result = train_cli("task.outlier_fraction=1.5", f"hydra.run.dir={tmp_path}", *REG)
    assert_one_clear_line(result, "task.outlier_fraction=1.5", "[0, 1)")


@pytest.mark.parametrize("value", ["2", "yes", "on"])
def test_a_bool_takes_only_true_or_false(tmp_path, value):
    """OmegaConf would read these as true; the schema says true or false."""
    result = train_cli(f"trainer.diagnostics={value}", f"hydra.run.dir={tmp_path}", *REG)
    assert result.returncode == 2
    assert_one_clear_line(result, f"trainer.diagnostics={value} is not valid: true or false")
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda(tmp_path):
    result = train_cli(f"hydra.run.dir={tmp_path}", *REG, "trainer.device=cuda")
    assert_one_clear_line(result, "trainer.device=cuda", "no CUDA")


def test_missing_mnist_files(tmp_path):
    result = train_cli("task=mnist", "loss=ce", f"task.data_dir={tmp_path / 'none'}",
                       "task.download=false", f"hydra.run.dir={tmp_path / 'run'}", *QUICK)
    assert_one_clear_line(result, f"task.data_dir='{tmp_path / 'none'}' is not valid",
                          "MNIST files missing", "must hold MNIST/raw/ with the four uncompressed "
                          "IDX files train-images-idx3-ubyte", "task.download=true")


def test_single_run_writes_everything_under_its_run_dir(tmp_path):
    run_dir = tmp_path / "run"
    result = train_cli("task=regression", "loss=smoothl1", f"hydra.run.dir={run_dir}", *REG,
                       cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "ok"
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing in the cwd


def test_sweep_records_skipped_pairs_and_goes_on(tmp_path):
    sweep = tmp_path / "sweep"
    result = train_cli("-m", "task=regression", "loss=mse,ce,l1", "seed=0,1",
                       f"hydra.sweep.dir={sweep}", *REG)
    assert result.returncode == 0, result.stderr
    records = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/metrics.json"))]
    assert len(records) == 6
    status = {(r["loss"], r["seed"]): r["status"] for r in records}
    assert status == {("mse", 0): "ok", ("mse", 1): "ok", ("ce", 0): "skipped",
                      ("ce", 1): "skipped", ("l1", 0): "ok", ("l1", 1): "ok"}
    names = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert names[0].startswith("0_loss=mse,seed=0,")  # folders name what they swept


def test_debug_config_is_a_short_cpu_run(tmp_path):
    run_dir = tmp_path / "run"
    result = train_cli("debug=default", f"hydra.run.dir={run_dir}", *TINY_REGRESSION)
    assert result.returncode == 0, result.stderr
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["epochs_completed"] == 1 and record["device"] == "cpu"
    assert record["hparams"]["trainer.limit_train_batches"] == 5



@pytest.mark.slow
def test_a_run_and_a_sweep_end_with_their_closing_lines(tmp_path):
    """Status, the selected epoch on validation and test, the run dir, the TensorBoard
    command, and why val/mse dwarfs test/mse (regression corrupts validation on purpose)."""
    run_dir = tmp_path / "run"
    result = train_cli("task=regression", "loss=smoothl1", f"hydra.run.dir={run_dir}", *REG)
    assert result.returncode == 0, result.stderr
    record = json.loads((run_dir / "metrics.json").read_text())
    lines = [line.split("] - ", 1)[-1] for line in result.stdout.splitlines()][-5:]
    val = record["history"][record["selected"]["epoch"] - 1]["val/mse"]
    assert lines[0] == "run ok"
    assert lines[1] == (f"selected epoch {record['selected']['epoch']} (best val/mse): "
                        f"val/mse {val:.4g}, test/mse {record['selected']['test/mse']:.4g}")
    assert lines[2].startswith("note: the validation split is corrupted on purpose "
                               "(val_outlier_fraction")
    assert lines[3:] == [f"run dir: {run_dir}", f"curves: tensorboard --logdir {run_dir}"]
    sweep = tmp_path / "sweep"
    result = train_cli("-m", "task=regression", "loss=l1,mse", f"hydra.sweep.dir={sweep}", *REG)
    assert result.returncode == 0, result.stderr
    assert [line.split("] ", 1)[-1] for line in result.stdout.splitlines()][-2:] == [
        f"report: python scripts/report.py {sweep}", f"curves: tensorboard --logdir {sweep}"]
