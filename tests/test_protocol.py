"""The training protocol of the noisy-label papers: Nesterov SGD, gradient clipping,
deterministic algorithms, and APL's CNN with batch norm on every image task."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lossbench.errors import UserError
from tasks import get
from trainer import models
from trainer.engine import optim
from trainer.engine.loop import evaluate
from trainer.engine.scoring import scores
from trainer.engine.single import Single
from trainer.run import run
from trainer.rundir import checkpoint, results

DIGITS = ["task=digits", "task.val_fraction=0.0", "loss=ce", "trainer.max_epochs=1"]


def test_nesterov_sgd_is_built_and_checkpointed(make_cfg, tmp_path):
    record = run(make_cfg(*DIGITS, "optim=sgd", "optim.nesterov=true"), tmp_path)
    assert record["status"] == "ok" and record["hparams"]["optim.nesterov"] is True
    state = checkpoint.load(tmp_path, torch.device("cpu"))
    assert state["optimizer"]["param_groups"][0]["nesterov"] is True


def test_nesterov_without_momentum_is_one_line(make_cfg, tmp_path):
    with pytest.raises(UserError, match="Nesterov momentum requires a momentum"):
        run(make_cfg(*DIGITS, "optim=sgd", "optim.nesterov=true", "optim.momentum=0.0"),
            tmp_path)


def gradient_norms_at_each_step(make_cfg, tmp_path, *overrides: str) -> list[float]:
    """The global gradient norm each optimizer step receives (the run is a population of one)."""
    norms: list[float] = []
    step = optim.StackedOptimizer.step

    def measure(self, grads, skip=None):
        norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        return step(self, grads, skip)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(optim.StackedOptimizer, "step", measure)
        record = run(make_cfg("task=regression", "loss=mse", "optim=sgd", "optim.lr=0.001",
                              "trainer.max_epochs=1", *overrides), tmp_path)
    assert record["status"] == "ok"
    return norms


def test_gradient_clipping_bounds_the_global_norm_at_every_step(make_cfg, tmp_path):
    free = gradient_norms_at_each_step(make_cfg, tmp_path / "free")
    assert max(free) > 10  # mse on targets with outliers: large gradients unclipped
    clipped = gradient_norms_at_each_step(make_cfg, tmp_path / "clip",
                                          "trainer.gradient_clip_val=0.5")
    assert len(clipped) == len(free) and max(clipped) <= 0.5 * (1 + 1e-5)
    assert min(clipped) > 0.4  # only scaled down, never zeroed


@pytest.mark.parametrize("value", ["0", "-1.0", "inf", "abc"])
def test_bad_clip_values_are_one_line(make_cfg, tmp_path, value):
    with pytest.raises(UserError, match=r"gradient_clip_val=.* is not valid: a finite number > 0, "
                                        "or null"):
        run(make_cfg(*DIGITS, f"trainer.gradient_clip_val={value}"), tmp_path)


def test_deterministic_runs_and_then_switches_back_off(make_cfg, tmp_path):
    cfg = make_cfg(*DIGITS, "model=toy_cnn", "trainer.deterministic=true")
    first, second = run(cfg, tmp_path / "a"), run(cfg, tmp_path / "b")
    assert first["status"] == "ok" and first["history"][0]["test/loss"] == second["history"][0][
        "test/loss"]
    assert not torch.are_deterministic_algorithms_enabled()


class NoDeterministicOp(nn.Module):
    """A model with an op torch knows no deterministic implementation of (its real check)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch._prims_common import alert_not_deterministic

        alert_not_deterministic("scatter_of_the_test_model")
        return self.inner(x)


def test_an_op_without_a_deterministic_implementation_is_one_line(make_cfg, tmp_path,
                                                                    monkeypatch):
    build = models.build
    monkeypatch.setattr(models, "build", lambda *a: NoDeterministicOp(build(*a)))
    assert run(make_cfg(*DIGITS), tmp_path / "free")["status"] == "ok"
    with pytest.raises(UserError) as err:
        run(make_cfg(*DIGITS, "trainer.deterministic=true"), tmp_path / "strict")
    assert str(err.value).startswith(
        "trainer.deterministic=true, but scatter_of_the_test_model has no deterministic "
        "implementation in torch")
    assert "\n" not in str(err.value)
    assert results.read(tmp_path / "strict")["status"] == "failed"
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("task", ["mnist", "mnist_binary", "fashion_mnist", "digits"])
def test_toy_cnn_trains_on_every_image_task(make_cfg, tmp_path, task):
    record = run(make_cfg(f"task={task}", "model=toy_cnn", "optim=sgd", "optim.nesterov=true",
                          "scheduler=cosine", "trainer.gradient_clip_val=5",
                          "loss=bce_logits" if task == "mnist_binary" else "loss=nce_rce",
                          "trainer.max_epochs=2"), tmp_path)
    assert record["status"] == "ok" and record["model"] == "toy_cnn"
    assert record["final"]["test/accuracy"] > 0.5  # above chance on every one of them
    state = checkpoint.load(tmp_path, torch.device("cpu"))["model"]
    n_out = get(task).N_OUTPUTS if task != "mnist_binary" else 1
    assert state["12.weight"].shape[0] == n_out  # the last linear layer
    # Batch norm counted every training batch of both epochs, and its statistics were saved.
    batches = 2 * math.ceil(record["data"]["n_train"] / 64)
    assert state["1.num_batches_tracked"].item() == state["10.num_batches_tracked"] == batches


def test_toy_cnn_is_sized_from_the_input():
    eight = models.toy_cnn((1, 8, 8), [32, 64], 128, 10)  # digits: 8 → 4 → 2
    assert eight[9].in_features == 64 * 2 * 2
    assert eight(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert models.toy_cnn((1, 28, 28), [32, 64], 128, 10)[9].in_features == 64 * 7 * 7


def test_toy_cnn_refuses_inputs_without_room_for_two_pools():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"name": "toy_cnn", "channels": [32, 64], "hidden": 128})
    with pytest.raises(UserError, match=r"model=toy_cnn needs image input of at least 4×4"):
        models.build(cfg, (20,), 1)


@pytest.mark.numerics
def test_evaluation_uses_running_statistics_and_leaves_them_alone(make_cfg):
    data = get("digits").build(make_cfg("task=digits").task)
    model = models.toy_cnn(data.input_shape, [8, 16], 32, 10)
    with torch.no_grad():  # some training-mode batches, so the running statistics move
        for idx in torch.arange(256).split(64):
            model(data.prepare(data.x_train[idx]))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss = nn.CrossEntropyLoss()
    off = torch.autocast("cpu", enabled=False)
    small, large = (scores(evaluate(Single(model), data.x_test, data.prepare, off, rows)[0],
                           data.y_test, loss, ("accuracy",)) for rows in (7, 4096))
    # In eval mode a sample's output does not depend on the batch it is in.
    assert small["test/loss"] == pytest.approx(large["test/loss"], rel=1e-5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training  # back to training mode for the next epoch


def test_a_last_batch_of_one_is_refused_for_batch_norm(make_cfg, tmp_path):
    # digits has 1,437 training samples: batches of 4 leave one over.
    with pytest.raises(UserError, match=r"task.batch_size=4 leaves a last batch of 1 of the "
                                        r"1437 training samples"):
        run(make_cfg(*DIGITS, "model=toy_cnn", "task.batch_size=4"), tmp_path / "bn")
    limited = run(make_cfg(*DIGITS, "model=toy_cnn", "task.batch_size=4",
                           "trainer.limit_train_batches=3"), tmp_path / "limited")
    assert limited["status"] == "ok"
    assert run(make_cfg(*DIGITS, "model=mlp", "task.batch_size=4",
                        "trainer.limit_train_batches=3"), tmp_path / "mlp")["status"] == "ok"
