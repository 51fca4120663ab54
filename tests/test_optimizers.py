"""The engine's update against torch.optim, option by option: a single run (a population of
one) in float64 and float32, and a population whose members each have their own settings."""

from __future__ import annotations

import pytest
import torch
from numerics import FLOAT64, TRAINING
from omegaconf import OmegaConf
from torch import nn
from torch.optim import lr_scheduler

from trainer import optimizers
from trainer.engine import amp, optim, stacked
from trainer.engine.single import Single

pytestmark = pytest.mark.numerics  # tests/numerics.py

TORCH = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
# Every option the schemas allow (trainer/optimizers.py), each away from its default.
OPTIONS = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.05}),
    ("sgd", {"lr": 0.1, "momentum": 0.5, "nesterov": True, "weight_decay": 0.05}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "weight_decay": 0.05}),
    ("adam", {"lr": 0.01, "amsgrad": True}),
    ("adam", {"lr": 0.01, "weight_decay": 0.05, "amsgrad": True}),
    ("adamw", {"lr": 0.01}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]
TOLERANCE = {torch.float64: FLOAT64,
             torch.float32: {"rtol": TRAINING["rel"], "atol": TRAINING["abs"]}}


def model(dtype: torch.dtype, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)).to(dtype)


def ours(name: str, settings: dict, module: nn.Module) -> optimizers.MemberOptimizer:
    return optimizers.build(OmegaConf.create({"name": name, **settings}), module.parameters())


def assert_same_state(mine: dict, theirs: dict, tolerance: dict) -> None:
    assert mine["param_groups"] == theirs["param_groups"]
    assert mine["state"].keys() == theirs["state"].keys()
    for i, state in theirs["state"].items():
        assert mine["state"][i].keys() == state.keys()
        for key, value in state.items():
            torch.testing.assert_close(mine["state"][i][key], value, **tolerance)


@pytest.mark.parametrize("dtype, precision", [(torch.float64, "32"), (torch.float32, "32"),
                                              (torch.float32, "bf16")],
                         ids=["float64", "float32", "float32-bf16"])
@pytest.mark.parametrize("name, settings", OPTIONS, ids=[f"{n}-{'-'.join(s)}" for n, s in OPTIONS])
def test_a_single_run_steps_as_torch_optim(name, settings, dtype, precision):
    """Seven steps with an LR schedule, the forward under the run's autocast (bf16 computes
    the products in bfloat16; the weights and their update stay float32); parameters and
    the checkpointed state alike."""
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    theirs_model, mine_model = model(dtype), model(dtype)
    theirs = TORCH[name](theirs_model.parameters(), **settings)
    mine = ours(name, settings, mine_model)
    single = Single(mine_model)
    update = optim.StackedOptimizer(single.params, [mine])
    schedules = [lr_scheduler.StepLR(o, step_size=2, gamma=0.5) for o in (theirs, mine)]
    x = torch.randn(7, 16, 4, dtype=dtype)
    for xb in x:
        theirs.zero_grad()
        with autocast:
            loss = theirs_model(xb).float().square().mean()
        loss.backward()
        theirs.step()
        for p in single.leaves():
            p.grad = None
        with autocast:
            loss = single(xb[None]).float().square().mean()
        loss.backward()
        update.step(single.grads())
        for schedule in schedules:
            schedule.step()
    for a, b in zip(mine_model.parameters(), theirs_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, **TOLERANCE[dtype])
    assert_same_state(update.export(0), theirs.state_dict(), TOLERANCE[dtype])


@pytest.mark.parametrize("name, flag", [("sgd", "plain"), ("sgd", "nesterov"), ("adam", "plain"),
                                        ("adam", "amsgrad"), ("adamw", "plain"),
                                        ("adamw", "amsgrad")])
def test_each_member_of_a_population_steps_as_its_own_torch_optim(name, flag):
    """Different lr, weight decay, momentum and LR schedules per member, in float64.

    The stacked forward (baddbmm) and each member's own (addmm) run different matrix
    kernels, whose float32 roundings differ by CPU; in float64 they stay far below FLOAT64,
    while a wrong update term is off by 1e-6 or more.
    """
    settings = [{"lr": 0.1, "weight_decay": 0.0, "momentum": 0.9},
                {"lr": 0.02, "weight_decay": 0.05, "momentum": 0.3},
                {"lr": 0.3, "weight_decay": 0.01, "momentum": 0.5}]
    if name != "sgd":
        settings = [{k: v for k, v in s.items() if k != "momentum"} for s in settings]
    extra = {"plain": {}, "nesterov": {"nesterov": True}, "amsgrad": {"amsgrad": True}}[flag]
    settings = [{**s, **extra} for s in settings]
    theirs_models = [model(torch.float64, seed) for seed in range(3)]
    mine_models = [model(torch.float64, seed) for seed in range(3)]
    theirs = [TORCH[name](m.parameters(), **s) for m, s in zip(theirs_models, settings,
                                                               strict=True)]
    mine = [ours(name, s, m) for m, s in zip(mine_models, settings, strict=True)]
    together = stacked.StackedModel(mine_models)
    update = optim.StackedOptimizer(together.params, mine)
    # Each member its own schedule: one halves its lr every step, one none, one cosine.
    schedules = [[lr_scheduler.StepLR(o[0], 1, 0.5), lr_scheduler.CosineAnnealingLR(o[2], 5)]
                 for o in (theirs, mine)]
    x = torch.randn(5, 3, 8, 4, dtype=torch.float64)
    for xb in x:
        for m, o, xm in zip(theirs_models, theirs, xb, strict=True):
            o.zero_grad()
            m(xm).square().sum().backward()
            o.step()
        for p in together.params:
            p.grad = None
        together(xb).square().sum().backward()
        update.step(together.grads())
        for schedule in (s for group in schedules for s in group):
            schedule.step()
    for m, (theirs_model, o) in enumerate(zip(theirs_models, theirs, strict=True)):
        for n, p in theirs_model.named_parameters():
            torch.testing.assert_close(together.member_state(m)[n], p.detach(), **FLOAT64)
        assert_same_state(update.export(m), o.state_dict(), FLOAT64)


def test_checkpoints_of_torch_optim_load_and_ours_load_into_torch():
    """Checkpoints written before the engine (torch's own optimizers) continue as they were."""
    theirs_model, mine_model = model(torch.float32), model(torch.float32)
    theirs = torch.optim.Adam(theirs_model.parameters(), lr=0.01)
    theirs_model(torch.randn(3, 4)).sum().backward()
    theirs.step()
    mine = ours("adam", {"lr": 0.01}, mine_model)
    mine.load_state_dict(theirs.state_dict())
    assert_same_state(mine.state_dict(), theirs.state_dict(), FLOAT64)
    again = torch.optim.Adam(model(torch.float32).parameters(), lr=0.01)
    again.load_state_dict(mine.state_dict())
    assert_same_state(again.state_dict(), theirs.state_dict(), FLOAT64)


def test_a_members_overflow_skips_only_its_own_step():
    """Precision 16's scaler, per member: member 1's Inf gradient leaves its weights and
    Adam state alone and halves its scale; member 0 steps and keeps its scale."""
    models_ = [model(torch.float32, seed) for seed in range(2)]
    together = stacked.StackedModel(models_)
    update = optim.StackedOptimizer(together.params, [ours("adam", {"lr": 0.01}, m)
                                                      for m in models_])
    scaler = amp.Scaler(True, [{}, {}], torch.device("cpu"))
    before = [p.detach().clone() for p in together.params]
    losses = together(torch.randn(2, 8, 4)).square().mean(dim=(1, 2))
    scaler.scaled(losses).sum().backward()
    grads = together.grads()
    grads[0][1, 0, 0] = float("inf")
    skip = scaler.unscale(grads)
    update.step(grads, skip)
    scaler.update()
    assert skip == [False, True]
    for p, old in zip(together.params, before, strict=True):
        assert not torch.equal(p[0], old[0]) and torch.equal(p[1], old[1])
    assert update.steps == [1, 0] and "step" not in str(update.export(1)["state"])
    assert scaler.state_dict(0)["scale"] == 2.0**16 and scaler.state_dict(1)["scale"] == 2.0**15
