"""scripts/report.py on a real small sweep, and on folders of hand-made records."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest
from conftest import ROOT, TINY_REGRESSION, train_cli

from scripts.reporting.cli import main as report_main

SWEEP = ["-m", "task=regression", "loss=l1,mse,ce", "task.outlier_fraction=0,0.3", "seed=0,1",
         "trainer.max_epochs=2", "trainer.device=cpu", *TINY_REGRESSION]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# tbparse 0.0.9 calls a pandas API that pandas 3.1 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.sort_values")


def report(*args: str) -> subprocess.CompletedProcess:
    """scripts/report.py as a user runs it, in a fresh interpreter."""
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def report_here(capsys, *args: str) -> tuple[int | str, str, str]:
    """The same in this process (quicker): exit code or message, stdout, stderr."""
    try:
        code = report_main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """12 runs: 2 losses that fit × 2 outlier fractions × 2 seeds, and 4 skipped ce runs."""
    sweep = tmp_path_factory.mktemp("report") / "sweep"
    result = train_cli(*SWEEP, f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    return sweep, report(str(sweep))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def table_rows(summary: str, heading: str) -> list[list[str]]:
    """The body rows of the markdown table under `## <heading>`."""
    section = summary.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return [[c.strip() for c in r] for r in rows[2:]]


def test_results_csv_has_one_row_per_run(swept):
    sweep, result = swept
    assert result.returncode == 0, result.stderr
    rows = read_csv(sweep / "report" / "results.csv")
    assert len(rows) == len(list(sweep.glob("*/metrics.json"))) == 12
    assert {"task", "loss", "seed", "task.outlier_fraction", "lr", "status", "reason",
            "final/test/mse", "best/test/mse", "wall_s"} <= set(rows[0])
    assert {r["lr"] for r in rows} == {"0.001"}
    ce = [r for r in rows if r["loss"] == "ce"]
    assert len(ce) == 4 and {r["status"] for r in ce} == {"skipped"}
    assert all("does not fit" in r["reason"] for r in ce)
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 8 and all(float(r["final/test/mse"]) >= 0 for r in ok)


def test_summary_has_one_row_per_loss_and_swept_value(swept):
    sweep, result = swept
    summary = (sweep / "report" / "summary.md").read_text()
    rows = table_rows(summary, "regression: test/mse")
    assert sorted((r[0], r[1]) for r in rows) == [
        ("ce", "0"), ("ce", "0.3"), ("l1", "0"), ("l1", "0.3"), ("mse", "0"), ("mse", "0.3")]
    header = summary.split("## regression: test/mse", 1)[1].splitlines()[2]
    columns = [c.strip() for c in header.strip("|").split("|")]
    for row in rows:
        cell = dict(zip(columns, row, strict=True))
        assert cell["runs"] == "2"
        if row[0] == "ce":
            assert cell["skipped"] == "2" and cell["final test/mse"] == "—"
        else:
            assert cell["skipped"] == "0" and "±" in cell["final test/mse"]
    assert "4 skipped" in summary and "Runs that did not finish" in summary
    assert "## regression: test/mse" in result.stdout  # the table is printed too


def test_plots_are_valid_images(swept):
    sweep, _ = swept
    images = sorted(p.name for p in (sweep / "report").glob("*.png"))
    assert images == ["ranks.png", "regression_curves.png",
                      "regression_task.outlier_fraction.png"]
    for name in images:
        path = sweep / "report" / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        height, width, _ = matplotlib.image.imread(path).shape
        assert height > 200 and width > 300


def test_a_custom_target_replaces_the_default(swept, capsys):
    sweep, _ = swept
    code, out, err = report_here(capsys, str(sweep), "--target", "test/mse=1e6")
    assert code == 0, err
    assert "epochs to test/mse ≤ 1e+06" in out
    rows = table_rows(out, "regression: test/mse")
    assert any(r[-4] == "1 (2/2)" for r in rows)  # every finished run met it in epoch 1


def write_run(run_dir: Path, **fields) -> None:
    """A metrics.json as trainer/rundir/results.py writes it, without event files or overrides."""
    record = {"task": "regression", "loss": "mse", "model": "mlp", "optim": "adam", "lr": 1e-3,
              "seed": 0, "status": "ok", "reason": None, "epochs_completed": 3,
              "final": {"test/mse": 0.5}, "best": {"test/mse": 0.4}, "history": [],
              "wall_s": 1.0, "hparams": {"seed": 0, "optim.lr": 1e-3, "task.data_seed": 0}}
    record.update(fields)
    record["hparams"] = {**record["hparams"], "seed": record["seed"], "optim.lr": record["lr"],
                         "task.data_seed": record["seed"]}
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps(record))


def test_unfinished_runs_are_reported_not_fatal(tmp_path, capsys):
    write_run(tmp_path / "a" / "ok")
    write_run(tmp_path / "a" / "nan", seed=1, status="diverged", reason="loss became nan",
              final={"test/mse": None}, best={})
    write_run(tmp_path / "b" / "bad", seed=2, status="failed", reason="task.noise=-1 is bad",
              final={}, best={})
    write_run(tmp_path / "b" / "busy", seed=3, status="running", final={}, best={})
    code, out, err = report_here(capsys, str(tmp_path))
    assert code == 0, err
    assert "4 runs: 1 ok, 1 diverged, 1 failed, 1 running." in out
    assert "`a/nan`: diverged: loss became nan" in out
    assert "`b/busy`: running" in out
    (row,) = table_rows(out, "regression: test/mse")
    # runs, lr, n finished, final of the ok run
    assert row[1:5] == ["4", "0.001", "1", "0.5 (one seed)"]


def test_the_best_lr_is_picked_per_task_and_loss(tmp_path, capsys):
    for i, (loss, lr, mse) in enumerate([("mse", 1e-3, 0.9), ("mse", 1e-2, 0.2),
                                         ("l1", 1e-3, 0.1), ("l1", 1e-2, 0.3)]):
        for seed in (0, 1):
            write_run(tmp_path / f"{i}_{seed}", loss=loss, lr=lr, seed=seed,
                      final={"test/mse": mse + seed / 100})
    code, out, err = report_here(capsys, str(tmp_path))
    assert code == 0, err
    best = {r[1]: r[2] for r in table_rows(out, "Best learning rate")}
    assert best == {"l1": "0.001", "mse": "0.01"}
    images = sorted(p.name for p in (tmp_path / "report").glob("*.png"))
    # final mse against lr, and the ranks per lr; no curves without event files
    assert images == ["ranks.png", "regression_lr.png"]


def test_a_foreign_metrics_json_is_skipped_with_a_warning(tmp_path, capsys):
    write_run(tmp_path / "ours")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "metrics.json").write_text('{"accuracy": 0.9}')
    code, out, err = report_here(capsys, str(tmp_path))
    assert code == 0 and "1 run: 1 ok." in out
    assert "warning: skipped" in err and "theirs" in err


@pytest.mark.parametrize("make", ["empty", "missing"])
def test_no_runs_is_one_clear_line(tmp_path, capsys, make):
    target = tmp_path if make == "empty" else tmp_path / "nowhere"
    code, _, _ = report_here(capsys, str(target))
    # sys.exit(message): Python prints the message alone and exits 1.
    assert isinstance(code, str) and code.startswith("error: ") and "\n" not in code
    assert str(target) in code


def test_a_malformed_target_is_refused(tmp_path, capsys):
    write_run(tmp_path / "run")
    code, _, err = report_here(capsys, str(tmp_path), "--target", "test/mse")
    assert code == 2 and "METRIC=NUMBER" in err


def test_diagnostics_sweep_gets_the_corrupted_share_plot_and_column(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    result = train_cli("-m", "task=regression", "loss=l1,mse", "task.outlier_fraction=0.3",
                       "trainer.diagnostics=true", "trainer.log_every_n_steps=1",
                       "trainer.max_epochs=2", "trainer.device=cpu", *TINY_REGRESSION,
                       f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    code, out, err = report_here(capsys, str(sweep))
    assert code == 0, err
    assert (sweep / "report" / "regression_corrupted_share.png").read_bytes()[:8] == PNG_SIGNATURE
    header = next(line for line in out.splitlines() if line.startswith("| loss"))
    column = [c.strip() for c in header.strip("|").split("|")].index("mean grad/corrupted_share")
    shares = {r[0]: float(r[column]) for r in table_rows(out, "regression: test/mse")}
    # L1 gives every sample the same pull: outliers get their share of the batch, MSE more.
    assert shares["l1"] == pytest.approx(0.3, abs=0.03) and shares["mse"] > 0.5


@pytest.mark.parametrize(("target", "why"), [
    ("test/nope=0.5", "test/nope is not a metric runs log; one of test/accuracy, "),
    ("test/accuracy=nan", "the target must be a finite number."),
    ("test/mse=inf", "the target must be a finite number."),
    ("test/mse", "is not METRIC=NUMBER"),
])
def test_a_target_no_run_can_meet_is_one_line_exit_2(tmp_path, target, why):
    """Issue 25: --target test/nope=0.5 and =nan were accepted and matched nothing."""
    write_run(tmp_path / "run")
    result = report(str(tmp_path), "--target", target)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: --target {target}") and why in line, line
    assert not (tmp_path / "report").exists()


def test_only_corrupt_records_say_so(tmp_path, capsys):
    for name, text in (("torn", "{not json"), ("list", "[]")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(text)
    code, _, err = report_here(capsys, str(tmp_path))
    assert code == (f"error: no runs under {tmp_path}: its 2 metrics.json file(s) are all "
                    "corrupt or not lossbench records (warnings above).")
    assert err.count("warning: skipped") == 2


def test_a_running_record_without_a_reason_lists_no_nan(tmp_path, capsys):
    write_run(tmp_path / "ok")
    write_run(tmp_path / "busy", seed=1, status="running", final={}, best={})
    code, out, err = report_here(capsys, str(tmp_path))
    assert code == 0, err
    assert "- `busy`: running\n" in out and "nan" not in out.split("running", 1)[1][:5]
