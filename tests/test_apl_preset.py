"""experiment=apl_mnist: APL's grid and protocol, composed and run as a (tiny) sweep."""

from __future__ import annotations

import json

import pytest
from conftest import CONFIGS, compose_cfg, train_cli

from trainer import losses

APL_LOSSES = "ce,focal,gce,sce,nce,nfl,nce_mae,nce_rce,nfl_rce"
APL_NOISE = "clean,sym20,sym40,sym60,sym80,asym10,asym20,asym30,asym40"


def composed(*overrides: str):
    return compose_cfg("experiment=apl_mnist", *overrides, hydra=True)


def test_preset_holds_apl_grid_and_protocol():
    cfg = composed()
    params = cfg.hydra.sweeper.params
    # The grid sweeps every option of its two groups, so an option added is swept too;
    # rce is there to run by hand (apl_loss=rce), as in APL, and not in its table.
    for group, unswept in (("apl_loss", {"rce"}), ("apl_noise", set())):
        options = {p.stem for p in (CONFIGS / group).glob("*.yaml")}
        assert set(params[group].split(",")) == options - unswept, group
    assert (cfg.task.name, cfg.task.batch_size, cfg.model.name) == ("mnist", 128, "toy_cnn")
    assert cfg.task.val_fraction == 0.0  # APL trains on every training image
    assert dict(cfg.optim) == {"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True,
                               "weight_decay": 0.01}
    assert (cfg.scheduler.name, cfg.scheduler.T_max, cfg.scheduler.eta_min) == (
        "cosine", 50, 0.001)
    assert (cfg.trainer.max_epochs, cfg.trainer.gradient_clip_val) == (50, 5.0)
    # The command line shortens it, and the cosine schedule shrinks with it.
    short = composed("trainer.max_epochs=3", "task=fashion_mnist")
    assert short.scheduler.T_max == 3 and short.task.name == "fashion_mnist"


def test_each_grid_option_sets_apl_values():
    expected = {
        "ce": {}, "focal": {"gamma": 0.5, "detach_weight": True},
        "gce": {"q": 0.7, "p_floor": 1e-7},
        "sce": {"alpha": 0.01, "beta": 1.0, "log_zero": -9.210340371976182, "p_floor": 1e-7},
        "nce": {"scale": 10.0}, "nfl": {"scale": 1.0, "gamma": 0.5},
        "nce_mae": {"alpha": 1.0, "beta": 10.0}, "nce_rce": {"alpha": 1.0, "beta": 10.0},
        "nfl_rce": {"alpha": 1.0, "beta": 10.0, "gamma": 0.5},
    }
    assert list(expected) == APL_LOSSES.split(",")
    for name, params in expected.items():
        loss = dict(composed(f"apl_loss={name}").loss)
        assert loss.pop("name") == name and loss == {**losses.parameters(name), **params}
    for option in APL_NOISE.split(","):
        task = composed(f"apl_noise={option}").task
        kind = "asymmetric" if option.startswith("asym") else "symmetric_exact"
        rate = 0.0 if option == "clean" else int(option.removeprefix("a").removeprefix("sym")) / 100
        assert (task.noise_type, task.label_noise) == (kind, rate)


def test_preset_runs_as_a_sweep_with_a_tiny_override(data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    result = train_cli("-m", "experiment=apl_mnist", f"task.data_dir={data_dir}",
                       "apl_loss=nce_rce,nfl_rce", "apl_noise=sym40", "seed=0",
                       "trainer.max_epochs=1", "trainer.limit_train_batches=1",
                       "trainer.device=cpu", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    records = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/metrics.json"))]
    assert sorted(r["loss"] for r in records) == ["nce_rce", "nfl_rce"]
    for r in records:
        assert r["status"] == "ok" and r["task"] == "mnist" and r["model"] == "toy_cnn"
        h = r["hparams"]
        assert (h["optim.nesterov"], h["scheduler.name"], h["trainer.gradient_clip_val"]) == (
            True, "cosine", 5.0)
        assert h["task.noise_type"] == "symmetric_exact" and h["loss.beta"] == 10.0
        # The fixture's 200 training images hold 20 of each class: exactly 8 flipped in each.
        assert r["data"]["label_noise"] == pytest.approx(80 / 200, abs=1e-7)
        assert r["history"][0]["train/lr"] == 0.01
    names = sorted(p.parent.name for p in sweep.glob("*/metrics.json"))
    assert [n.partition(",seed=0")[0] for n in names] == [
        "0_apl_loss=nce_rce,apl_noise=sym40", "1_apl_loss=nfl_rce,apl_noise=sym40"]
