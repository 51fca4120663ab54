"""The report's intervals, paired tests and ranks, on numbers whose answer is known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from scripts.report import main as report_main
from scripts.reporting import ranks, stats

SEEDS = range(6)
# Seed-to-seed variation shared by every loss (the seed fixes data, noise and weights).
SHARED = [0.010, -0.020, 0.005, 0.015, -0.010, 0.000]
JITTER = [0.002, -0.001, 0.001, -0.002, 0.000, 0.001]


def write(root: Path, loss: str, seed: int, selected: float | None, final: float,
          noise: float = 0.4, task: str = "mnist", metric: str = "test/accuracy") -> None:
    run_dir = root / f"{task}-{loss}-{noise}-{seed}"
    record = {"task": task, "loss": loss, "model": "mlp", "optim": "adam", "lr": 1e-3,
              "seed": seed, "status": "ok", "reason": None, "epochs_completed": 5,
              "final": {metric: final}, "best": {metric: max(final, selected or final)},
              "selected": None if selected is None else {"epoch": 3, metric: selected},
              "history": [], "wall_s": 1.0,
              "hparams": {"seed": seed, "optim.lr": 1e-3, "task.data_seed": seed,
                          "task.label_noise": noise}}
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps(record))


def report(capsys, *args: str) -> str:
    assert report_main(list(args)) == 0
    return capsys.readouterr().out


def rows(summary: str, heading: str) -> list[dict[str, str]]:
    section = summary.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
            for line in lines[2:]]


def test_the_interval_is_students_t():
    ci = stats.mean_ci([1, 2, 3, 4, 5])  # s = √2.5, t(4) = 2.776
    assert (ci.mean, ci.n) == (3.0, 5)
    assert ci.high - ci.mean == pytest.approx(2.7764451 * math.sqrt(2.5) / math.sqrt(5))
    one = stats.mean_ci([0.7])
    assert one.mean == 0.7 and math.isnan(one.low) and math.isnan(one.high)


def test_holm_steps_down_and_stays_monotone():
    assert stats.holm([0.01, 0.04, 0.03, math.nan, 0.005]) == pytest.approx(
        [0.03, 0.06, 0.06, math.nan, 0.02], nan_ok=True)


def test_the_critical_difference_matches_demsar():
    # Demšar (2006), section 3.2.2: four classifiers on 14 data sets, CD = 1.25.
    assert stats.nemenyi_cd(4, 14) == pytest.approx(1.25, abs=0.005)
    assert stats.nemenyi_cd(2, 1) == pytest.approx(1.960, abs=0.001)  # q(2)/√2 · √(6/6)


def test_a_constructed_difference_is_called_better_and_identical_losses_are_not(
        tmp_path, capsys):
    for seed in SEEDS:
        base = 0.80 + SHARED[seed]
        write(tmp_path, "ce", seed, selected=base, final=base - 0.05)
        write(tmp_path, "gce", seed, selected=base + 0.02 + JITTER[seed], final=base)
        write(tmp_path, "mae", seed, selected=base, final=base - 0.05)  # the same as ce
        write(tmp_path, "focal", seed, selected=base - 0.03 + JITTER[seed], final=base - 0.1)
    out = report(capsys, str(tmp_path))
    table = {r["loss"]: r for r in rows(out, "Paired comparisons")}
    assert set(table) == {"gce", "mae", "focal"} and {r["vs"] for r in table.values()} == {"ce"}
    assert table["gce"]["verdict"] == "better" and table["gce"]["n"] == "6"
    assert float(table["gce"]["p (t, Holm)"].lstrip("< ")) < 0.05
    assert table["gce"]["difference (95% CI)"].startswith("0.0202 [")
    assert table["focal"]["verdict"] == "worse"
    assert table["mae"]["verdict"] == "no detectable difference"
    assert table["mae"]["difference (95% CI)"] == "0 [0, 0]"
    assert table["mae"]["p (t, Holm)"] == "1.000"
    assert "selected/test/accuracy" in out
    # Every mean comes with its interval and n; the oracle column is named for what it is.
    (ce,) = [r for r in rows(out, "mnist: test/accuracy") if r["loss"] == "ce"]
    assert ce["n"] == "6" and "±" in ce["selected test/accuracy"]
    assert "oracle test/accuracy" in ce and "best test/accuracy" not in ce
    saved = (tmp_path / "report" / "comparisons.csv").read_text().splitlines()
    assert len(saved) == 4 and "p_t_holm" in saved[0]


def test_the_verdict_respects_the_metric_direction(tmp_path, capsys):
    for seed in SEEDS:
        base = 1.0 + SHARED[seed]
        write(tmp_path, "mse", seed, None, base, task="regression", metric="test/mse")
        write(tmp_path, "l1", seed, None, base - 0.5 + JITTER[seed], task="regression",
              metric="test/mse")
    out = report(capsys, str(tmp_path))
    (l1,) = rows(out, "Paired comparisons")
    assert l1["vs"] == "mse" and l1["verdict"] == "better"  # lower MSE is better
    assert "compared on the final test/mse" in out  # no validation split in these runs


def test_measure_and_reference_can_be_chosen(tmp_path, capsys):
    for seed in SEEDS:
        base = 0.80 + SHARED[seed]
        write(tmp_path, "ce", seed, selected=base, final=base - 0.05 + JITTER[seed])
        write(tmp_path, "gce", seed, selected=base + JITTER[seed], final=base)
    final = {r["loss"]: r for r in rows(report(capsys, str(tmp_path), "--measure", "final"),
                                        "Paired comparisons")}
    assert final["gce"]["verdict"] == "better"  # ce fell after its selected epoch
    by_gce = rows(report(capsys, str(tmp_path), "--reference", "gce"), "Paired comparisons")
    assert [(r["loss"], r["vs"], r["verdict"]) for r in by_gce] == [
        ("ce", "gce", "no detectable difference")]


def test_a_binary_sweep_without_bce_logits_is_compared_with_ce(tmp_path, capsys):
    for seed in SEEDS:
        base = 0.90 + SHARED[seed]
        for loss, shift in (("ce", 0.0), ("poly1", 0.03), ("hinge", -0.03)):
            write(tmp_path, loss, seed, selected=base + shift + JITTER[seed], final=base,
                  task="breast_cancer")
    verdicts = {r["loss"]: (r["vs"], r["verdict"])
                for r in rows(report(capsys, str(tmp_path)), "Paired comparisons")}
    assert verdicts == {"poly1": ("ce", "better"), "hinge": ("ce", "worse")}


def test_a_one_seed_sweep_gives_no_interval_and_says_why(tmp_path, capsys):
    for loss, value in (("ce", 0.80), ("gce", 0.85), ("sce", 0.83)):
        write(tmp_path, loss, 0, selected=value, final=value)
    out = report(capsys, str(tmp_path))
    assert "one seed: no interval (a spread needs at least two seeds)" in out
    assert "seed='range(10)'" in out
    cells = rows(out, "mnist: test/accuracy")
    assert all(r["final test/accuracy"].endswith("(one seed)") for r in cells)
    assert all("±" not in v for r in cells for v in r.values())
    assert {r["verdict"] for r in rows(out, "Paired comparisons")} == {"no test (one seed)"}


def test_ranks_friedman_and_the_diagram(tmp_path, capsys):
    # Four noise rates, three losses, the same order in every block: gce, sce, ce.
    for noise in (0.0, 0.2, 0.4, 0.6):
        for seed in range(2):
            for loss, gain in (("ce", 0.0), ("sce", 0.01), ("gce", 0.02)):
                value = 0.9 - noise / 2 + gain + SHARED[seed]
                write(tmp_path, loss, seed, selected=value, final=value, noise=noise)
    out = report(capsys, str(tmp_path))
    table = rows(out, "Ranks across tasks and settings")
    assert [(r["loss"], r["average rank"]) for r in table] == [
        ("gce", "1.00"), ("sce", "2.00"), ("ce", "3.00")]
    assert "Friedman χ² = 8.00, p = 0.0183" in out
    cd = stats.nemenyi_cd(3, 4)
    assert f"critical difference (α = 0.05, 3 losses, 4 blocks): {cd:.2f}" in out
    assert "gce ranks ahead of ce" in out  # 2 ≥ CD = 1.66; gce vs sce (1) is not
    assert "gce ranks ahead of sce" not in out
    image = tmp_path / "report" / "ranks.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cliques_join_losses_closer_than_the_critical_difference():
    assert ranks.cliques([1.0, 1.5, 2.9, 3.2, 5.0], cd=1.6) == [(0, 1), (1, 2), (2, 3)]
    assert ranks.cliques([1.0, 2.0, 3.0], cd=5.0) == [(0, 2)]
    assert ranks.cliques([1.0, 3.0, 5.0], cd=1.0) == []


def test_average_ranks_share_ties():
    scores = np.array([[0.9, 0.9, 0.5], [0.8, 0.7, 0.6]])
    assert stats.average_ranks(scores, higher_is_better=True).tolist() == [1.25, 1.75, 3.0]
    assert stats.average_ranks(scores, higher_is_better=False).tolist() == [2.75, 2.25, 1.0]


def test_the_best_lr_is_chosen_on_validation_not_on_test(tmp_path, capsys):
    # lr 0.01 looks best on test, lr 0.001 on validation: the table must follow validation.
    for lr, val, test in ((1e-3, 0.90, 0.80), (1e-2, 0.85, 0.88)):
        for seed in range(2):
            run_dir = tmp_path / f"{lr}-{seed}"
            run_dir.mkdir()
            (run_dir / "metrics.json").write_text(json.dumps({
                "task": "mnist", "loss": "ce", "model": "mlp", "optim": "adam", "lr": lr,
                "seed": seed, "status": "ok", "reason": None, "epochs_completed": 2,
                "final": {"test/accuracy": test, "val/accuracy": val},
                "best": {"test/accuracy": test}, "selected": {"epoch": 2, "test/accuracy": test},
                "history": [], "wall_s": 1.0,
                "hparams": {"seed": seed, "optim.lr": lr, "task.data_seed": seed}}))
    (row,) = rows(report(capsys, str(tmp_path)), "Best learning rate")
    assert (row["best lr"], row["chosen on"], row["final test/accuracy"]) == (
        "0.001", "val/accuracy", "0.8")
