"""The loop's promises: no host sync per step, autocast, and the CUDA paths where CUDA exists."""

from __future__ import annotations

import sys

import pytest
import torch
from conftest import ROOT

from lossbench.errors import UserError
from trainer import models
from trainer.run import run
from trainer.rundir import results

PROJECT = str(ROOT)
SYNCS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__")


def count_host_reads(monkeypatch) -> dict[str, int]:
    """Count the project's own calls of Tensor methods that copy a value to the host.

    torch's Adam reads its step counter with .item(), but that counter lives on
    the CPU by design, so it never waits for a GPU: only our code is counted.
    """
    counts = dict.fromkeys(SYNCS, 0)
    for name in SYNCS:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _name=name, _original=original, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(PROJECT) and "site-packages" not in caller:
                counts[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    return counts


def host_reads_for(make_cfg, tmp_path, monkeypatch, n_train: int) -> int:
    cfg = make_cfg("task=regression", f"task.n_train={n_train}", "task.batch_size=8",
                   "trainer.max_epochs=1", "trainer.log_every_n_steps=1000")
    with monkeypatch.context() as patch:
        counts = count_host_reads(patch)
        assert run(cfg, tmp_path / str(n_train))["status"] == "ok"
    return sum(counts.values())


def test_host_reads_do_not_grow_with_the_number_of_steps(make_cfg, tmp_path, monkeypatch):
    # 16 steps and 64 steps per epoch: a per-step .item() would add 48 reads.
    few = host_reads_for(make_cfg, tmp_path, monkeypatch, n_train=128)
    many = host_reads_for(make_cfg, tmp_path, monkeypatch, n_train=512)
    assert many == few


def test_loss_is_read_every_n_steps(make_cfg, tmp_path):
    from tbparse import SummaryReader

    run(make_cfg("task=regression", "task.n_train=256", "task.val_fraction=0",
                 "task.batch_size=8", "trainer.max_epochs=1", "trainer.log_every_n_steps=10"),
        tmp_path)
    scalars = SummaryReader(str(tmp_path)).scalars
    steps = scalars[scalars["tag"] == "train/loss"]["step"].tolist()
    assert steps == [10, 20, 30, 32]  # every 10 steps and the epoch's last


@pytest.mark.parametrize("precision, dtype", [("bf16", torch.bfloat16), ("32", torch.float32)])
def test_autocast_sets_the_dtype_the_model_computes_in(make_cfg, tmp_path, monkeypatch,
                                                       precision, dtype):
    seen = set()
    build = models.build

    def recording(*args):  # the run's own model, with a hook on its output
        model = build(*args)
        model.register_forward_hook(lambda module, inputs, output: seen.add(output.dtype))
        return model

    monkeypatch.setattr(models, "build", recording)
    record = run(make_cfg("task=mnist", "loss=ce", f"trainer.precision={precision}"), tmp_path)
    assert record["status"] == "ok" and str(record["hparams"]["trainer.precision"]) == precision
    assert seen == {dtype}  # training steps and the test pass alike


def test_fp16_needs_cuda(make_cfg, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UserError, match=r"trainer\.precision=16 needs CUDA"):
        run(make_cfg("trainer.precision=16"), tmp_path)


def test_unknown_precision(make_cfg, tmp_path):
    with pytest.raises(UserError, match=r"trainer\.precision=.*one of 32, bf16, 16"):
        run(make_cfg("trainer.precision=8"), tmp_path)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
@pytest.mark.parametrize("precision", ["32", "bf16", "16"])
def test_cuda_run_with_autocast(make_cfg, tmp_path, precision):
    record = run(make_cfg("task=mnist", "loss=ce", "trainer.device=cuda",
                          f"trainer.precision={precision}"), tmp_path)
    assert record["status"] == "ok" and record["device"].startswith("cuda")


@cuda
def test_cuda_compile_matches_the_record_format(make_cfg, tmp_path):
    record = run(make_cfg("task=mnist", "loss=ce", "trainer.device=cuda", "trainer.compile=true"),
                 tmp_path)
    assert record["status"] == "ok"
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert not any(k.startswith("_orig_mod.") for k in state["model"])


@pytest.mark.numerics
@cuda
def test_cuda_resume_matches(make_cfg, tmp_path):
    cfg = ("task=mnist", "loss=ce", "trainer.device=cuda")
    straight = run(make_cfg(*cfg, "trainer.max_epochs=2"), tmp_path / "a")
    run(make_cfg(*cfg, "trainer.max_epochs=1"), tmp_path / "b")
    record = results.read(tmp_path / "b")
    record["status"] = "interrupted"  # a finished run is left alone; an interrupted one goes on
    results.write(tmp_path / "b", record)
    resumed = run(make_cfg(*cfg, "trainer.max_epochs=2", "trainer.resume=true"), tmp_path / "b")
    assert resumed["epochs_completed"] == 2
    assert resumed["final"]["test/accuracy"] == pytest.approx(straight["final"]["test/accuracy"],
                                                              abs=0.02)
