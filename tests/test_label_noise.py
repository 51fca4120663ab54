"""Label noise: how many labels flip, to which classes, from which seed; test labels stay clean."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import train_cli
from tbparse import SummaryReader

import tasks
from lossbench.errors import UserError
from tasks import noise
from trainer import schemas
from trainer.run import run

CLEAN = torch.arange(1000) % 10  # 100 labels of each class


def test_symmetric_flips_exactly_the_fraction_each_to_another_class():
    noisy, flipped = noise.flip(CLEAN, 10, 0.4, "symmetric", seed=0)
    assert flipped.sum().item() == 400
    assert torch.equal(flipped, noisy != CLEAN)
    # Every class sends its flipped labels to all nine others, never to itself.
    for c in range(10):
        targets = set(noisy[(c == CLEAN) & flipped].tolist())
        assert targets == set(range(10)) - {c}


def test_symmetric_exact_flips_floor_of_the_fraction_of_every_class():
    # Classes of unequal size, 13 + 7c members, so a share of all labels would not do.
    clean = torch.cat([torch.full((13 + 7 * c,), c) for c in range(10)])
    clean = clean[torch.randperm(len(clean), generator=torch.Generator().manual_seed(0))]
    for fraction in (0.2, 0.29, 0.4, 0.8):
        noisy, flipped = noise.flip(clean, 10, fraction, "symmetric_exact", seed=3)
        assert torch.equal(flipped, noisy != clean)
        for c in range(10):
            n_c = 13 + 7 * c
            # ⌊η·n_c⌋ in integers: 29 · n_c // 100 for η = 0.29, and so on.
            assert flipped[clean == c].sum().item() == round(fraction * 100) * n_c // 100
        for c in range(10):  # to other classes, never to itself
            assert c not in noisy[(clean == c) & flipped].tolist()


def test_symmetric_exact_spreads_flips_evenly_over_the_other_classes():
    from scipy.stats import chisquare

    clean = torch.arange(20000) % 10
    noisy, flipped = noise.flip(clean, 10, 0.5, "symmetric_exact", seed=0)
    for c in (0, 7):
        counts = torch.bincount(noisy[(clean == c) & flipped], minlength=10)
        others = [counts[k].item() for k in range(10) if k != c]
        assert sum(others) == 1000 and chisquare(others).pvalue > 1e-4


def test_asymmetric_flips_the_literature_pairs_only():
    noisy, flipped = noise.flip(CLEAN, 10, 0.4, "asymmetric", seed=0)
    moves = {(a, b) for a, b in zip(CLEAN[flipped].tolist(), noisy[flipped].tolist(),
                                    strict=True)}
    assert moves == {(7, 1), (2, 7), (5, 6), (6, 5), (3, 8)}
    for c in (7, 2, 5, 6, 3):
        assert flipped[c == CLEAN].sum().item() == 40  # 0.4 of each source class
    assert flipped.sum().item() == 200  # so 0.2 of all labels


def test_binary_asymmetric_flips_positives_to_negative():
    clean = torch.tensor([1, 0] * 50)
    noisy, flipped = noise.flip(clean, 2, 0.2, "asymmetric", seed=3)
    assert flipped.sum().item() == 10 and set(clean[flipped].tolist()) == {1}
    assert set(noisy[flipped].tolist()) == {0}


def test_noise_follows_the_seed():
    a, _ = noise.flip(CLEAN, 10, 0.3, "symmetric", seed=1)
    b, _ = noise.flip(CLEAN, 10, 0.3, "symmetric", seed=1)
    c, _ = noise.flip(CLEAN, 10, 0.3, "symmetric", seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("task", ["mnist", "fashion_mnist", "digits", "mnist_binary"])
def test_every_classification_task_flips_training_labels_only(make_cfg, task):
    module = tasks.get(task)
    clean = module.build(make_cfg("task.val_fraction=0", f"task={task}").task)
    dirty = module.build(make_cfg("task.val_fraction=0", f"task={task}",
                                  "task.label_noise=0.4").task)
    assert clean.info["label_noise"] == 0.0 and not clean.corrupted.any()
    assert torch.equal(clean.y_test, dirty.y_test) and torch.equal(clean.x_train, dirty.x_train)
    assert torch.equal(dirty.corrupted, dirty.y_train != clean.y_train)
    assert dirty.info["label_noise"] == pytest.approx(0.4, abs=0.5 / len(dirty.y_train))
    assert set(dirty.y_train.tolist()) <= set(range(max(2, module.N_OUTPUTS)))


@pytest.mark.parametrize(("override", "message"), [
    ("task.label_noise=1.0", r"task.label_noise=1.0 is not valid: a fraction in \[0, 1\)"),
    ("task.label_noise=-0.1", r"task.label_noise=-0.1 is not valid"),
    ("task.noise_type=uniform", "task.noise_type='uniform' is not valid: one of symmetric, "
                                "symmetric_exact, asymmetric"),
    ("task.data_seed=-1", "task.data_seed=-1 is not valid"),
])
@pytest.mark.parametrize("task", ["mnist", "digits", "mnist_binary"])
def test_noise_settings_are_checked(make_cfg, task, override, message):
    with pytest.raises(UserError, match=message):
        schemas.check(make_cfg(f"task={task}", override))


def test_the_flipped_share_is_recorded_and_logged(make_cfg, tmp_path):
    record = run(make_cfg("task=digits", "loss=gce", "task.label_noise=0.2",
                          "trainer.max_epochs=1"), tmp_path)
    data = record["data"]
    # The realised shares of the training and validation parts; together, 0.2 of the pool.
    flipped = data["label_noise"] * data["n_train"] + data["val_label_noise"] * data["n_val"]
    assert round(flipped) == round(0.2 * (data["n_train"] + data["n_val"]))
    assert data["label_noise"] == pytest.approx(0.2, abs=0.02)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["data"]["label_noise"] == record["data"]["label_noise"]
    scalars = SummaryReader(str(tmp_path)).scalars
    logged = scalars[scalars["tag"] == "data/label_noise"]["value"].tolist()
    assert logged == pytest.approx([record["data"]["label_noise"]])


def test_a_bad_noise_value_is_one_line_on_the_command_line(tmp_path):
    result = train_cli("task=digits", "loss=ce", "task.label_noise=1.5",
                       f"hydra.run.dir={tmp_path}", "trainer.device=cpu")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: task.label_noise=1.5 is not valid: a fraction in [0, 1)."]


def test_preset_runs_with_its_grid_narrowed_on_the_command_line(tmp_path):
    sweep = tmp_path / "sweep"
    result = train_cli("-m", "experiment=label_noise", "task=digits", "loss=ce,gce", "seed=0",
                       "task.label_noise=0.0,0.4", "trainer.max_epochs=1", "trainer.device=cpu",
                       f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    records = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/metrics.json"))]
    seen = {(r["loss"], r["hparams"]["task.label_noise"], r["task"]) for r in records}
    assert seen == {("ce", 0.0, "digits"), ("ce", 0.4, "digits"), ("gce", 0.0, "digits"),
                    ("gce", 0.4, "digits")}
    assert all(r["status"] == "ok" for r in records)
    assert sorted(round(r["data"]["label_noise"], 1) for r in records) == [0.0, 0.0, 0.4, 0.4]
