"""task=table: a user's CSV, Parquet or NumPy file as a task, its kind inferred from the
target, and every bad file refused in one line naming the file and the column."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, train_cli

import tasks
from lossbench import memory
from lossbench.errors import UserError
from tasks import table_files
from tasks.table import TABLE

QUICK = ["trainer.max_epochs=1", "trainer.device=cpu", "logger=[]"]


def write_csv(path: Path, header: str, rows: list[str]) -> str:
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def regression_csv(path: Path, n: int = 120) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3))
    y = 100 + 30 * x[:, 0] - 20 * x[:, 1] + rng.normal(size=n)
    return write_csv(path, "a,b,c,price", [",".join(f"{v:.5f}" for v in (*r, t))
                                           for r, t in zip(x, y, strict=True)])


def classes_csv(path: Path, labels: list[str]) -> str:
    rng = np.random.default_rng(1)
    return write_csv(path, "a,b,label", [f"{rng.normal():.4f},{rng.normal():.4f},{c}"
                                         for c in labels])


def table_task(path: str, *extra: str, make_cfg) -> tuple:
    cfg = make_cfg("task=table", f"task.path={path}", *extra)
    return tasks.get("table", cfg.task), cfg


def test_kind_is_inferred_from_the_target(make_cfg, tmp_path):
    reg, _ = table_task(regression_csv(tmp_path / "r.csv"), make_cfg=make_cfg)
    assert (reg.KIND, reg.N_OUTPUTS, reg.METRICS) == ("regression", 1, ("mse", "mae", "r2"))
    binary, _ = table_task(classes_csv(tmp_path / "b.csv", ["no", "yes"] * 30),
                           make_cfg=make_cfg)
    assert (binary.KIND, binary.METRICS) == ("binary", ("accuracy", "auc"))
    multi, _ = table_task(classes_csv(tmp_path / "m.csv", ["1", "2", "3"] * 20),
                          make_cfg=make_cfg)
    assert (multi.KIND, multi.N_OUTPUTS) == ("multiclass", 3)
    assert tasks.get("table").KIND is None  # unresolved: no file read


def test_split_standardisation_and_metrics_in_the_targets_units(make_cfg, tmp_path):
    task, cfg = table_task(regression_csv(tmp_path / "r.csv"), "task.val_fraction=0",
                           "task.target=price", make_cfg=make_cfg)
    data = task.build(cfg.task)
    assert len(data.y_train) == 96 and len(data.y_test) == 24
    assert data.x_train.mean(0).abs().max() < 1e-5  # the training part's statistics
    assert abs(float(data.y_train.mean())) < 1e-5 and data.target_scale > 10
    classes, cfg = table_task(classes_csv(tmp_path / "b.csv", ["x", "y"] * 30),
                              "task.val_fraction=0", make_cfg=make_cfg)
    built = classes.build(cfg.task)
    assert sorted(built.y_test.tolist()) == [0] * 6 + [1] * 6  # stratified


def test_a_separate_test_file_and_npy_npz(make_cfg, tmp_path):
    train = regression_csv(tmp_path / "train.csv")
    test = regression_csv(tmp_path / "test.csv", n=30)
    task, cfg = table_task(train, f"task.test_path={test}", make_cfg=make_cfg)
    assert len(task.build(cfg.task).y_test) == 30
    array = np.column_stack([np.arange(40.0), np.tile([0, 1], 20)])
    np.save(tmp_path / "d.npy", array)
    npy = TABLE.resolved(make_cfg("task=table", f"task.path={tmp_path}/d.npy").task)
    assert (npy.KIND, npy.train.target) == ("binary", "1")
    np.savez(tmp_path / "d.npz", x=array, y=np.arange(40) % 3)
    npz = TABLE.resolved(make_cfg("task=table", f"task.path={tmp_path}/d.npz").task)
    assert (npz.KIND, npz.train.features) == ("multiclass", ["x[0]", "x[1]"])


def test_a_parquet_file(make_cfg, tmp_path):
    pytest.importorskip("pyarrow")
    import pandas as pd

    frame = pd.read_csv(classes_csv(tmp_path / "b.csv", ["no", "yes"] * 20))
    frame.to_parquet(tmp_path / "b.parquet")
    task = TABLE.resolved(make_cfg("task=table", f"task.path={tmp_path}/b.parquet",
                                   "task.target=label").task)
    assert (task.KIND, task.classes, task.train.features) == ("binary", ["no", "yes"],
                                                              ["a", "b"])


def test_dropna_drops_the_rows_and_says_how_many(make_cfg, tmp_path, caplog):
    path = write_csv(tmp_path / "n.csv", "a,y", [f"{i},{i * 0.5}" for i in range(20)]
                     + ["nan,1.5", "inf,2.5"])
    with caplog.at_level("INFO", logger="lossbench"):
        task = TABLE.resolved(make_cfg("task=table", f"task.path={path}",
                                       "task.dropna=true").task)
    assert len(task.train.y) == 20 and "task.dropna dropped 2 rows" in caplog.text


def test_a_file_larger_than_memory_is_refused_before_reading(monkeypatch, tmp_path):
    path = regression_csv(tmp_path / "r.csv")
    import pandas as pd

    def parsed(*args: object, **kwargs: object) -> None:
        raise AssertionError("read before its size was checked")

    monkeypatch.setattr(memory, "total_bytes", lambda device=None: 1000)
    monkeypatch.setattr(pd, "read_csv", parsed)
    with pytest.raises(UserError, match=r"^task.path='.*r.csv' is not valid: reading its "
                       r".* would need about .*, more than the 1 KB of memory"):
        table_files.read(path, "price", None, False)


def bad_files(tmp: Path) -> list[tuple[list[str], str]]:
    """(overrides, the error line's start) for each way a file can be wrong."""
    (tmp / "empty.csv").write_text("")
    reg = regression_csv(tmp / "r.csv")
    text = write_csv(tmp / "t.csv", "a,city,y", [f"{i},Paris,{i % 2}" for i in range(20)])
    nan = write_csv(tmp / "n.csv", "a,y", [f"{i},{i % 2}" for i in range(20)] + ["nan,1"])
    rare = classes_csv(tmp / "rare.csv", ["a", "b"] * 20 + ["c"])
    one = classes_csv(tmp / "one.csv", ["a"] * 20)
    return [
        ([f"task.path={tmp}/missing.csv"], f"task.path='{tmp}/missing.csv' is not valid: an "
         "existing file (not found)."),
        ([f"task.path={tmp}/empty.csv"], f"task.path='{tmp}/empty.csv' is not valid: a file "
         "with rows (it is empty)."),
        ([f"task.path={reg}", "task.target=cost"], f"task.target='cost' is not valid: a column "
         f"of {reg}; its columns are a, b, c, price."),
        ([f"task.path={text}"], f"task.path='{text}' is not valid: feature column 'city' holds "
         "text ('Paris'), not numbers"),
        ([f"task.path={nan}"], f"task.path='{nan}' is not valid: column 'a' holds NaN or "
         "infinite values (1 rows, the first is data row 21)"),
        ([f"task.path={rare}"], f"task.path='{rare}' is not valid: class 'c' of column 'label' "
         f"of {rare} has 1 sample(s), and the splits need at least 3 of each class (drop its "
         "rows)"),
        ([f"task.path={one}"], f"task.target='label' is not valid: a column with at least 2 "
         f"classes: column 'label' of {one} holds one class only ('a')."),
        ([f"task.path={reg}", "task.kind=multiclass"], "task.kind='multiclass' is not valid: "
         f"regression: column 'price' of {reg} holds numbers that are not class labels"),
        ([f"task.path={reg}", "task.label_noise=0.2"], "task.label_noise=0.2 is not valid: 0 "
         f"for the regression target column 'price' of {reg}"),
    ]


def test_each_bad_file_ends_in_one_line_and_exit_2(tmp_path):
    """Refused before the run dir is claimed: nothing is written there."""
    for i, (overrides, expected) in enumerate(bad_files(tmp_path)):
        run_dir = tmp_path / f"run{i}"
        result = train_cli("task=table", *overrides, *QUICK, f"hydra.run.dir={run_dir}")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert len(lines) == 1 and lines[0].startswith(f"error: {expected}"), lines
        assert not any(run_dir.rglob("*"))  # refused before the run dir is claimed


@pytest.mark.parametrize("extra", [["loss=mse"], ["-m", "hydra/launcher=population",
                                                  "loss=mse,huber", "seed=0,1"]],
                         ids=["single", "population"])
def test_train_py_runs_a_table_and_reports_in_the_targets_units(tmp_path, extra):
    path = regression_csv(tmp_path / "r.csv")
    result = train_cli(*extra, "task=table", f"task.path={path}", "task.target=price",
                       "task.outlier_fraction=0.1", *QUICK,
                       f"hydra.run.dir={tmp_path}/run", f"hydra.sweep.dir={tmp_path}/sweep")
    assert result.returncode == 0, result.stderr
    records = [json.loads(p.read_text()) for p in tmp_path.rglob("metrics.json")]
    assert len(records) == (4 if "-m" in extra else 1)
    for record in records:
        assert record["status"] == "ok" and record["task"] == "table"
        assert record["final"]["test/mse"] > 50  # price's units: its std is about 36
        assert torch.isfinite(torch.tensor(record["final"]["val/mse"]))
    if "-m" in extra:  # the report pairs huber with mse, the regression reference
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"),
                               str(tmp_path / "sweep")], capture_output=True, text=True,
                              timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr
        assert "| table | huber | mse | 2 |" in (tmp_path / "sweep" / "report" /
                                              "summary.md").read_text()
