"""The leaderboard: the committed document is what its results file generates, the quick
variant runs end to end, and the learning-rate choice and verdicts follow the protocol."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from scripts.leaderboard import document, protocol, tables

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_committed_document_is_what_its_results_generate():
    folder = DOCS / "leaderboard"
    results = pd.read_csv(folder / "results.csv.gz")
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["protocol"] == "full" and meta["runs"] == len(results)
    expected = document.render(results, meta, document.figures(folder))
    assert (DOCS / "leaderboard.md").read_text() == expected, \
        "docs/leaderboard.md drifted: python -m scripts.leaderboard --render"
    assert f"**Wall time: {meta['wall_s'] / 60:.1f} min**" in expected
    # Every run of the full grid is in the file: nothing was dropped on the way.
    grid = tables.grid_rows(results)
    assert len(grid) == sum(protocol.runs_in(protocol.FULL, s) for s in protocol.FULL.sweeps)


def _runs(kind: str, task: str, setting: dict, scores: dict[tuple[str, float], list[float]],
          val: dict[tuple[str, float], list[float]] | None = None,
          status: dict[tuple[str, float, int], str] | None = None) -> pd.DataFrame:
    metric = tables.METRIC[kind]
    rows = []
    for (loss, lr), values in scores.items():
        for seed, value in enumerate(values):
            rows.append({"sweep": task, "task": task, "loss": loss, "lr": lr, "seed": seed,
                         "status": (status or {}).get((loss, lr, seed), "ok"),
                         f"selected/{metric}": value,
                         "selected/" + metric.replace("test/", "val/"):
                             (val or scores)[loss, lr][seed], **setting})
    return pd.DataFrame(rows)


NOISE = {"task.label_noise": 0.4, "task.noise_type": "symmetric",
         "task.outlier_fraction": None}


def test_lr_is_chosen_on_validation_and_a_rate_with_a_failed_seed_is_not():
    scores = {("ce", 1e-3): [0.80] * 5, ("ce", 1e-2): [0.70] * 5,
              ("sce", 1e-3): [0.60] * 5, ("sce", 1e-2): [0.90] * 5}
    # Validation prefers sce at 1e-3, the test set at 1e-2: validation decides.
    val = {**scores, ("sce", 1e-3): [0.95] * 5, ("sce", 1e-2): [0.5] * 5}
    found = {c.loss: c for c in tables.cells(_runs("multiclass", "digits", NOISE, scores,
                                                   val))}
    assert found["sce"].lr == 1e-3 and found["sce"].interval.mean == pytest.approx(0.60)
    assert found["ce"].lr == 1e-3
    # A diverged seed disqualifies its rate, however good the others look.
    failed = tables.cells(_runs("multiclass", "digits", NOISE, scores, val,
                                {("sce", 1e-3, 2): "diverged"}))
    assert {c.loss: c.lr for c in failed}["sce"] == 1e-2


def test_verdicts_are_paired_holm_corrected_and_read_in_the_metric_direction():
    gain = [0.01, 0.012, 0.011, 0.009, 0.0105]
    base = [0.80, 0.82, 0.79, 0.81, 0.80]
    scores = {("ce", 1e-3): base,
              ("sce", 1e-3): [a + g for a, g in zip(base, gain, strict=True)],
              ("mae", 1e-3): [0.60, 0.85, 0.70, 0.90, 0.75]}
    found = {c.loss: c for c in tables.cells(_runs("multiclass", "digits", NOISE, scores))}
    assert found["ce"].verdict == "reference"
    assert found["sce"].verdict == "better"
    assert found["sce"].difference == pytest.approx(sum(gain) / 5)
    assert found["mae"].verdict == "no detectable difference"  # noisy: no claim
    # Regression: a lower mse is the better one.
    mse = {("mse", 1e-3): [1.0, 1.1, 0.9, 1.05, 0.95],
           ("l1", 1e-3): [0.5, 0.6, 0.45, 0.55, 0.5]}
    reg = {c.loss: c for c in tables.cells(_runs(
        "regression", "regression", {**NOISE, "task.label_noise": None,
                                     "task.outlier_fraction": 0.1}, mse))}
    assert reg["l1"].verdict == "better" and reg["l1"].setting == "outliers 0.1"


def test_ranks_cover_every_block_of_a_kind():
    scores = {("ce", 1e-3): [0.8] * 3, ("sce", 1e-3): [0.9] * 3, ("mae", 1e-3): [0.5] * 3}
    frames = [_runs("multiclass", "digits", {**NOISE, "task.label_noise": rate}, scores)
              for rate in (0.0, 0.4, 0.6)]
    ranked = tables.ranks(tables.cells(pd.concat(frames)), "multiclass")
    assert ranked.losses == ["sce", "ce", "mae"] and ranked.average == [1.0, 2.0, 3.0]
    assert len(ranked.blocks) == 3 and ranked.cd is not None


@pytest.mark.slow
def test_quick_leaderboard_runs_renders_and_serves_as_a_baseline(tmp_path):
    out, runs = tmp_path / "out", tmp_path / "runs"
    done = subprocess.run([sys.executable, "-m", "scripts.leaderboard", "--quick",
                           "--out", str(out), "--runs", str(runs)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    total = sum(protocol.runs_in(protocol.QUICK, s) for s in protocol.QUICK.sweeps)
    assert f"leaderboard (quick): {total} runs" in done.stdout
    assert f"[{total}/{total} runs]" in done.stdout  # the progress line reaches the end
    results = pd.read_csv(out / "leaderboard" / "results.csv.gz")
    assert len(results) == total and (results.status == "ok").all()
    text = (out / "leaderboard.md").read_text()
    for heading in ("### digits", "### regression", "### What to use"):
        assert heading in text
    cells = pd.read_csv(out / "leaderboard" / "leaderboard.csv")
    assert set(cells.loss[cells.task == "regression"]) == set(protocol.losses_for(
        "regression"))
    assert cells["mean"].notna().all() and set(cells.lr) <= set(protocol.QUICK.lrs)
    # --render rewrites the same document from the stored results.
    (out / "leaderboard.md").write_text("stale")
    again = subprocess.run([sys.executable, "-m", "scripts.leaderboard", "--quick", "--render",
                            "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 0 and (out / "leaderboard.md").read_text() == text
    # A user's own run of one loss pairs with the stored runs of the others.
    mine = tmp_path / "mine"
    sweep = subprocess.run([sys.executable, "train.py", "-m", "task=regression", "model=mlp",
                            "model.hidden_sizes=[100]", "trainer.max_epochs=3",
                            "task.outlier_fraction=0.1", "loss=mse", "optim.lr=0.01",
                            "seed=0,1", "trainer.progress_bar=false",
                            f"hydra.sweep.dir={mine}"], capture_output=True, text=True, cwd=ROOT)
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    report = subprocess.run([sys.executable, "scripts/report.py", str(mine), "--baseline",
                             str(out / "leaderboard" / "results.csv.gz")],
                            capture_output=True, text=True, cwd=ROOT)
    assert report.returncode == 0, report.stderr[-2000:]
    summary = (mine / "report" / "summary.md").read_text()
    assert "| regression | l1 | mse |" in summary


def test_render_without_results_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "scripts.leaderboard", "--render", "--out",
                           str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("error: --render")
