"""The engine's parts against torch's own: batch norm stacked over members, clipping per
member, and where a population's checkpoints are read from."""

from __future__ import annotations

import pytest
import torch
from numerics import FLOAT64
from torch import nn

from trainer import models
from trainer.diagnostics import grad_norms
from trainer.engine import optim, stacked
from trainer.rundir import checkpoint

pytestmark = pytest.mark.numerics  # tests/numerics.py


def toy_cnns(n: int) -> list[nn.Sequential]:
    torch.manual_seed(0)
    return [models.toy_cnn((1, 8, 8), [3, 4], 5, 3).double() for _ in range(n)]


def test_stacked_batch_norm_is_each_members_in_training_and_evaluation():
    """Outputs, and the running statistics each member's own modules would keep, in float64."""
    own, copies = toy_cnns(3), toy_cnns(3)
    together = stacked.StackedModel(copies)
    x = torch.randn(3, 6, 1, 8, 8, dtype=torch.float64)
    for _ in range(2):  # training mode: batch statistics, running ones updated
        out = together(x)
        for m, model in enumerate(own):
            torch.testing.assert_close(out[m], model(x[m]), **FLOAT64)
    for m, model in enumerate(own):
        mine = together.member_state(m)
        assert list(mine) == list(model.state_dict())
        for key, value in model.state_dict().items():
            torch.testing.assert_close(mine[key], value, **FLOAT64)
    together.train(False)
    shared = torch.randn(5, 1, 8, 8, dtype=torch.float64)
    out = together(shared, shared=True)
    for m, model in enumerate(own):
        model.eval()
        torch.testing.assert_close(out[m], model(shared), **FLOAT64)


def test_clipping_is_torchs_per_member():
    """Bounds 0.5, none and 100 (never reached): each member as clip_grad_norm_ leaves it."""
    torch.manual_seed(0)
    grads = [torch.randn(3, 4, 5, dtype=torch.float64) * 3, torch.randn(3, 5,
                                                                     dtype=torch.float64)]
    bounds = [0.5, None, 100.0]
    expected = []
    for m, bound in enumerate(bounds):
        params = [nn.Parameter(torch.zeros_like(g[m])) for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = g[m].clone()
        if bound is not None:
            torch.nn.utils.clip_grad_norm_(params, bound)
        expected.append([p.grad for p in params])
    optim.Clipping(bounds, torch.device("cpu"))(grads)
    for m in range(3):
        for g, e in zip(grads, expected[m], strict=True):
            torch.testing.assert_close(g[m], e, **FLOAT64)
    assert float(grad_norms(grads)[0]) == pytest.approx(0.5, rel=1e-6)


def state(epoch: int) -> dict:
    return {"epoch": epoch, "model": {}, "optimizer": {}, "rng": {}, "record": {"x": epoch}}


def test_the_newest_of_last_pt_and_population_pt_is_read(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    checkpoint.save_population({a: state(2), b: state(2)})
    checkpoint.save(b, state(3))  # b left the population after its epoch 3
    assert checkpoint.load(a, torch.device("cpu"))["epoch"] == 2
    assert checkpoint.load(b, torch.device("cpu"))["epoch"] == 3
    assert not (b / checkpoint.POPULATION).exists()  # its last.pt is newer: the file went
    checkpoint.save_population({tmp_path / "c": state(4), a: state(4)})
    assert checkpoint.load(a, torch.device("cpu"))["epoch"] == 4
    (a / checkpoint.POPULATION).write_bytes(b"half a file")
    with pytest.raises(checkpoint.CorruptCheckpoint, match=r"population\.pt is truncated"):
        checkpoint.load(a, torch.device("cpu"))
