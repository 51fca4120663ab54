"""Population training's engine: each member's numbers and files against its own single run."""

from __future__ import annotations

import math

import pytest
import torch
from numerics import TRAINING, assert_same_metrics
from tbparse import SummaryReader
from torch import nn

from trainer.engine import loop, stacked, writer
from trainer.engine.member import Member
from trainer.run import run, setup
from trainer.rundir import checkpoint, results
from trainer.rundir.claim import claim
from trainer.rundir.policy import Progress

pytestmark = pytest.mark.numerics  # tests/numerics.py

OPTIMS = ["sgd", "adam", "adamw"]
# Tiny versions of the three models: regression for the dense ones, digits for the CNN.
MODELS = {
    "linear": ["task=regression", "model=linear", "task.data_seed=0"],
    "mlp": ["task=regression", "model=mlp", "model.hidden_sizes=[32]", "task.data_seed=0"],
    "cnn": ["task=digits", "model=cnn", "model.channels=[4,8]", "model.hidden=16",
            "trainer.limit_train_batches=6", "task.data_seed=0"],
}
REGRESSION_LOSSES = ["mse", "l1", "smoothl1", "huber"]
DIGITS_LOSSES = ["ce", "gce", "focal", "sce"]


def train_both(make_cfg, tmp_path, common: list[str], members: list[list[str]]
               ) -> tuple[list[dict], list[dict]]:
    """Each config trained alone (trainer.run.run) and all of them as one population."""
    cfgs = [make_cfg(*common, *extra) for extra in members]
    singles = [run(cfg, tmp_path / f"single{i}") for i, cfg in enumerate(cfgs)]
    population = [member(cfg, tmp_path / f"member{i}") for i, cfg in enumerate(cfgs)]
    loop.train(population)
    return singles, [m.record for m in population]


def member(cfg, run_dir) -> Member:
    """A run set up as the launcher sets one up (trainer.rundir.policy's steps, run.setup)."""
    claimed = claim(run_dir, results.flat_hparams(cfg), bool(cfg.trainer.resume))
    claimed.release()  # the test holds no other process off
    return Member(setup(cfg, run_dir, Progress(cfg, run_dir, claimed)))


def metrics(record: dict) -> list[dict[str, float]]:
    return [{k: v for k, v in h.items() if "/" in k} for h in record["history"]]


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("optim_name", OPTIMS)
def test_a_population_of_one_matches_its_single_run(make_cfg, tmp_path, model, optim_name):
    loss = "ce" if model == "cnn" else "smoothl1"
    (single,), (member,) = train_both(make_cfg, tmp_path,
                                      [*MODELS[model], f"optim={optim_name}", f"loss={loss}",
                                       "trainer.max_epochs=3", "seed=4"], [[]])
    assert member["status"] == single["status"] == "ok"
    assert member["epochs_completed"] == 3
    for ours, theirs in zip(metrics(member), metrics(single), strict=True):
        assert_same_metrics(ours, theirs)


def population_of_12(model: str, optim_name: str) -> tuple[list[str], list[list[str]]]:
    """12 members that differ in seed, loss, learning rate and the corruption of targets."""
    common = [*MODELS[model], f"optim={optim_name}", "trainer.max_epochs=3"]
    base_lr = {"sgd": 0.02, "adam": 0.002, "adamw": 0.002}[optim_name]
    losses = DIGITS_LOSSES if model == "cnn" else REGRESSION_LOSSES
    corrupt = "task.label_noise" if model == "cnn" else "task.outlier_fraction"
    members = [[f"loss={loss}", f"seed={seed}", f"optim.lr={base_lr * (1 + seed)}",
                f"{corrupt}={0.1 * seed}"]
               for loss in losses for seed in range(3)]
    return common, members


@pytest.mark.slow
@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("optim_name", OPTIMS)
def test_a_population_of_12_matches_each_single_run(make_cfg, tmp_path, model, optim_name):
    common, members = population_of_12(model, optim_name)
    singles, records = train_both(make_cfg, tmp_path, common, members)
    for single, member in zip(singles, records, strict=True):
        assert member["status"] == single["status"] == "ok"
        if model == "cnn":
            assert member["final"]["test/accuracy"] == pytest.approx(
                single["final"]["test/accuracy"], abs=1e-3)
        else:
            assert member["final"]["test/mse"] == pytest.approx(single["final"]["test/mse"],
                                                                rel=0.02)


def test_a_member_that_diverges_stops_alone(make_cfg, tmp_path):
    common = ["task=regression", "optim=sgd", "loss=mse", "trainer.max_epochs=3",
              "task.data_seed=0", "trainer.log_every_n_steps=2"]
    singles, records = train_both(make_cfg, tmp_path, common,
                                  [["seed=0"], ["seed=1", "optim.lr=1e6"], ["seed=2"]])
    assert [r["status"] for r in records] == ["ok", "diverged", "ok"]
    assert records[1]["reason"] == singles[1]["reason"]
    assert records[1]["epochs_completed"] == singles[1]["epochs_completed"]
    assert "training loss became" in records[1]["reason"]
    for i in (0, 2):
        for ours, theirs in zip(metrics(records[i]), metrics(singles[i]), strict=True):
            assert_same_metrics(ours, theirs)


def scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    frame = SummaryReader(str(run_dir)).scalars
    return {tag: list(zip(g.step, g.value, strict=True)) for tag, g in frame.groupby("tag")}


def test_members_log_the_single_runs_tensorboard_scalars(make_cfg, tmp_path):
    """Tags, steps and values; gradient diagnostics only for the member that asked."""
    common = ["task=regression", "loss=l1", "trainer.max_epochs=2", "task.data_seed=0",
              "trainer.log_every_n_steps=2"]
    train_both(make_cfg, tmp_path, common, [["trainer.diagnostics=true"], ["seed=1"]])
    for i in (0, 1):
        ours, theirs = scalars(tmp_path / f"member{i}"), scalars(tmp_path / f"single{i}")
        assert ours.keys() == theirs.keys()
        for tag in theirs:
            assert [s for s, _ in ours[tag]] == [s for s, _ in theirs[tag]]
            assert [v for _, v in ours[tag]] == pytest.approx([v for _, v in theirs[tag]],
                                                              rel=1e-4, abs=1e-6)
    assert "grad/corrupted_share" in scalars(tmp_path / "member0")
    assert not any(t.startswith("grad/") for t in scalars(tmp_path / "member1"))


def test_bf16_on_cpu_follows_the_single_run(make_cfg, tmp_path):
    (single,), (member,) = train_both(
        make_cfg, tmp_path, ["task=regression", "trainer.precision=bf16", "loss=l1"], [[]])
    assert member["status"] == "ok"
    # bf16 keeps 8 bits of mantissa: the batched products round differently from one
    # model's, so the agreement is bf16's, not float32's.
    for ours, theirs in zip(metrics(member), metrics(single), strict=True):
        assert ours == pytest.approx(theirs, rel=2e-2, abs=1e-3)


def test_a_members_checkpoint_is_the_single_runs_and_resumes_as_one(make_cfg, tmp_path):
    common = ["task=regression", "optim=sgd", "loss=huber", "seed=3"]
    train_both(make_cfg, tmp_path, [*common, "trainer.max_epochs=1"], [[]])
    ours = checkpoint.load(tmp_path / "member0", torch.device("cpu"))
    theirs = checkpoint.load(tmp_path / "single0", torch.device("cpu"))
    assert ours.keys() == theirs.keys()
    assert ours["optimizer"]["param_groups"] == theirs["optimizer"]["param_groups"]
    for key in ("model", "optimizer"):
        flat_ours, flat_theirs = _flatten(ours[key]), _flatten(theirs[key])
        assert flat_ours.keys() == flat_theirs.keys()
        for name, value in flat_theirs.items():
            if isinstance(value, torch.Tensor):
                assert flat_ours[name].shape == value.shape
                torch.testing.assert_close(flat_ours[name], value, rtol=1e-5, atol=1e-7)
    for stream in ("torch", "order"):
        assert torch.equal(ours["rng"][stream], theirs["rng"][stream])
    assert ours["rng"]["python"] == theirs["rng"]["python"]
    # The single run continues the member's checkpoint as if it were its own (as after a
    # kill: the record still says running).
    record = results.read(tmp_path / "member0")
    results.write(tmp_path / "member0", {**record, "status": "running"})
    resumed = run(make_cfg(*common, "trainer.max_epochs=2", "trainer.resume=true"),
                  tmp_path / "member0")
    straight = run(make_cfg(*common, "trainer.max_epochs=2"), tmp_path / "straight")
    for a, b in zip(metrics(resumed), metrics(straight), strict=True):
        assert_same_metrics(a, b)


def _flatten(tree, prefix: str = "") -> dict:
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    if isinstance(tree, list):
        return _flatten(dict(enumerate(tree)), prefix)
    return {prefix: tree}


@pytest.mark.parametrize("build", [
    lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.ReLU(), nn.Linear(7, 3)),
    lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 1, bias=False)),
    lambda: nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 4, 3, padding=1),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 5), nn.Tanh()),
], ids=["mlp", "linear-no-bias", "cnn"])
def test_the_stacked_forward_is_each_members_forward(build):
    torch.manual_seed(0)
    models = [build() for _ in range(3)]
    model = stacked.StackedModel(models)
    shape = (1, 10, 10) if isinstance(models[0][0], nn.Conv2d) else (12,)
    own = torch.randn(3, 5, *shape)
    shared = torch.randn(5, *shape)
    together, on_shared = model(own), model(shared, shared=True)
    for m, single in enumerate(models):
        torch.testing.assert_close(together[m], single(own[m]))
        torch.testing.assert_close(on_shared[m], single(shared))


def test_models_that_cannot_be_stacked_say_why():
    assert "batch norm without affine" in stacked.unsupported(
        nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3, affine=False)))
    assert stacked.unsupported(nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))) is None
    assert "Dropout" in stacked.unsupported(nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.1)))
    assert stacked.unsupported(nn.Linear(3, 3)) is not None
    assert stacked.unsupported(nn.Sequential(nn.Flatten(), nn.Linear(3, 3))) is None


CUDA = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="no CUDA device on this machine (scripts/gpu_check.sh runs "
                                 "these where there is one)")


@CUDA
@pytest.mark.parametrize("precision", ["32", "bf16", "16"])
def test_on_cuda_a_population_follows_its_single_runs(make_cfg, tmp_path, precision):
    common, members = population_of_12("mlp", "adam")
    common = [*common, "trainer.device=cuda", f"trainer.precision={precision}"]
    singles, records = train_both(make_cfg, tmp_path, common, members)
    for single, member in zip(singles, records, strict=True):
        assert member["status"] == single["status"] == "ok"
        assert member["device"].startswith("cuda")
        ours, theirs = member["final"]["test/mse"], single["final"]["test/mse"]
        assert math.isfinite(ours) and ours == pytest.approx(theirs, rel=0.02)


# Every single-run feature in a population: each member against its own single run.
REGRESSION = [*MODELS["mlp"], "loss=smoothl1", "trainer.max_epochs=3"]
FEATURES = {
    # Each member its own schedule, or none.
    "schedules": (["optim=sgd"], [["scheduler=cosine"], ["scheduler=step",
                  "scheduler.step_size=1", "scheduler.gamma=0.5"], ["scheduler=onecycle"], []]),
    "clipping": (["optim=sgd", "optim.lr=0.05"], [["trainer.gradient_clip_val=0.5"], [],
                                                  ["trainer.gradient_clip_val=2"]]),
    "nesterov": (["optim=sgd", "optim.nesterov=true"], [[], ["optim.lr=0.02"]]),
    "amsgrad": (["optim=adam", "optim.amsgrad=true"], [[], ["optim.lr=0.003"]]),
    "adamw-onecycle": (["optim=adamw", "scheduler=onecycle"], [[], ["optim.lr=0.003"]]),
    "deterministic": (["trainer.deterministic=true"], [[], ["loss=l1"]]),
}


@pytest.mark.slow
@pytest.mark.parametrize("feature", list(FEATURES))
def test_members_with_each_feature_match_their_single_runs(make_cfg, tmp_path, feature):
    common, members = FEATURES[feature]
    members = [[f"seed={i}", *extra] for i, extra in enumerate(members)]
    singles, records = train_both(make_cfg, tmp_path, [*REGRESSION, *common], members)
    for single, member in zip(singles, records, strict=True):
        assert member["status"] == single["status"] == "ok"
        for ours, theirs in zip(metrics(member), metrics(single), strict=True):
            assert_same_metrics(ours, theirs)


@pytest.mark.slow
def test_batch_norm_members_keep_their_own_running_statistics(make_cfg, tmp_path):
    """toy_cnn: batch norm's running statistics per member, in training and evaluation.

    SGD, not Adam: a bias before batch norm has a gradient of zero plus rounding, which
    Adam normalises into full-size steps, so two kernels' roundings part such a bias (and
    the running mean behind it) by a few percent; SGD leaves it where it is.
    """
    common = ["task=digits", "model=toy_cnn", "model.channels=[4,8]", "model.hidden=16",
              "trainer.limit_train_batches=6", "loss=ce", "task.data_seed=0", "optim=sgd"]
    singles, records = train_both(make_cfg, tmp_path, common,
                                  [["seed=0"], ["seed=1", "loss=gce"], ["seed=2"]])
    for i, (single, member) in enumerate(zip(singles, records, strict=True)):
        assert member["status"] == single["status"] == "ok"
        for ours, theirs in zip(metrics(member), metrics(single), strict=True):
            assert_same_metrics(ours, theirs)
        ours = checkpoint.load(tmp_path / f"member{i}", torch.device("cpu"))["model"]
        theirs = checkpoint.load(tmp_path / f"single{i}", torch.device("cpu"))["model"]
        assert ours.keys() == theirs.keys() and "1.running_var" in ours
        for key, value in theirs.items():  # TRAINING, relative to the tensor's largest value
            scale = float(value.abs().max()) if value.is_floating_point() else 0.0
            torch.testing.assert_close(ours[key], value, rtol=TRAINING["rel"],
                                       atol=TRAINING["rel"] * scale + TRAINING["abs"])


@pytest.mark.slow
def test_a_population_writes_one_checkpoint_file_per_epoch(make_cfg, tmp_path, monkeypatch):
    """Every member's epoch in one population.pt, hard-linked into each run dir; killed
    there (the members never left, so no last.pt), each member resumes from it."""
    monkeypatch.setattr(writer.Writer, "leave", writer.Writer.wait)  # as killed: none left
    common = ["task=regression", "optim=sgd", "loss=huber", "task.data_seed=0"]
    members = [["seed=0"], ["seed=1", "optim.lr=0.02"], ["seed=2"]]
    train_both(make_cfg, tmp_path, [*common, "trainer.max_epochs=1"], members)
    files = [tmp_path / f"member{i}" / checkpoint.POPULATION for i in range(3)]
    assert len({f.stat().st_ino for f in files}) == 1 and files[0].stat().st_nlink == 3
    assert not any((f.parent / "last.pt").exists() for f in files)
    monkeypatch.undo()
    for i, extra in enumerate(members):
        run_dir = tmp_path / f"member{i}"
        results.write(run_dir, {**results.read(run_dir), "status": "running"})
        resumed = run(make_cfg(*common, *extra, "trainer.max_epochs=2", "trainer.resume=true"),
                      run_dir)
        straight = run(make_cfg(*common, *extra, "trainer.max_epochs=2"), tmp_path / f"s{i}")
        assert resumed["epochs_completed"] == 2
        for a, b in zip(metrics(resumed), metrics(straight), strict=True):
            assert_same_metrics(a, b)
        assert (run_dir / checkpoint.CHECKPOINT).is_file()
        assert not (run_dir / checkpoint.POPULATION).exists()


@CUDA
def test_on_cuda_fp16_members_keep_their_own_loss_scale(make_cfg, tmp_path):
    """One member at lr 1e6 overflows and diverges; its loss scale is its own, so the
    others' steps are never skipped for it and they match their single runs."""
    common = [*MODELS["mlp"], "loss=mse", "optim=sgd", "trainer.device=cuda",
              "trainer.precision=16", "trainer.max_epochs=2", "trainer.log_every_n_steps=2"]
    singles, records = train_both(make_cfg, tmp_path, common,
                                  [["seed=0"], ["seed=1", "optim.lr=1e6"], ["seed=2"]])
    assert [r["status"] for r in records] == [s["status"] for s in singles]
    for i in (0, 2):
        assert records[i]["status"] == "ok"
        ours, theirs = records[i]["final"]["test/mse"], singles[i]["final"]["test/mse"]
        assert ours == pytest.approx(theirs, rel=0.02)
        state = checkpoint.load(tmp_path / f"member{i}", torch.device("cpu"))
        assert state["scaler"].keys() == torch.amp.GradScaler("cuda").state_dict().keys()
