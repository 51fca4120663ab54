"""hydra/launcher=population from the command line: every run's files as the basic launcher
leaves them, the same statuses, closing line and exit code, the report unable to tell, and
a killed population sweep resumed."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import (
    QUICK_REGRESSION,
    ROOT,
    TINY_REGRESSION,
    compose_cfg,
    config_loader,
    train_cli,
    train_killed,
)
from hydra.types import RunMode
from numerics import assert_same_metrics
from omegaconf import OmegaConf
from tbparse import SummaryReader

from trainer.population.compose import SharedCompositions
from trainer.rundir import results

POPULATION = ["hydra/launcher=population"]
QUICK = [*QUICK_REGRESSION, "trainer.max_epochs=2"]
SWEEP = ["-m", "task=regression", "loss=l1,mse,ce", "seed=0,1", "task.outlier_fraction=0,0.2",
         "trainer.log_every_n_steps=2", *QUICK]
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.sort_values")


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """The same 12-job sweep (4 of them skipped) through both launchers."""
    root = tmp_path_factory.mktemp("launchers")
    out = {}
    for name, extra in (("basic", []), ("population", POPULATION)):
        sweep = root / name
        out[name] = sweep, train_cli(*SWEEP, *extra, f"hydra.sweep.dir={sweep}")
        assert out[name][1].returncode == 0, out[name][1].stderr
    return out


def closing_line(result: subprocess.CompletedProcess) -> str:
    line = next(x for x in result.stdout.splitlines() if "] sweep " in x)
    return line.split(": ", 1)[1]


def files(run_dir: Path) -> list[str]:
    return sorted(re.sub(r"events\.out\.tfevents\..*", "EVENTS", p.relative_to(run_dir).as_posix())
                  for p in run_dir.rglob("*") if p.is_file())


def hydra_node(path: Path, sweep: Path) -> dict:
    """.hydra/hydra.yaml with the sweep dir named alike and the launcher's own override out."""
    node = yaml.safe_load(path.read_text().replace(str(sweep), "SWEEP"))["hydra"]
    node["overrides"]["hydra"] = [o for o in node["overrides"]["hydra"]
                                  if not o.startswith("hydra/launcher=")]
    node["runtime"]["choices"].pop("hydra/launcher")
    return node


def without_timing(record: dict) -> dict:
    record = {k: v for k, v in record.items() if k != "wall_s"}
    record["history"] = [{k: v for k, v in h.items() if k != "time_s"}
                         for h in record["history"]]
    return record


def log_lines(run_dir: Path) -> list[str]:
    """train.log without its timestamps and epoch times."""
    text = (run_dir / "train.log").read_text()
    return [re.sub(r"  [\d.]+s$", "", line.split("] ", 1)[-1]) for line in text.splitlines()]


@pytest.mark.numerics
def test_every_run_dir_holds_what_the_basic_launcher_leaves(sweeps):
    (basic, b), (population, p) = sweeps["basic"], sweeps["population"]
    assert closing_line(b) == closing_line(p) == "12 job(s) this launch: 8 ok, 4 skipped"
    names = sorted(d.name for d in basic.iterdir() if d.is_dir())
    assert names == sorted(d.name for d in population.iterdir() if d.is_dir())
    for name in names:
        ours, theirs = population / name, basic / name
        assert files(ours) == files(theirs), name
        for part in ("config.yaml", "overrides.yaml"):
            assert (ours / ".hydra" / part).read_text() == (theirs / ".hydra" / part).read_text()
        hydra_ours, hydra_theirs = (hydra_node(d / ".hydra" / "hydra.yaml", d.parent)
                                    for d in (ours, theirs))
        assert hydra_ours.pop("launcher")["_target_"].endswith("PopulationLauncher")
        hydra_theirs.pop("launcher")
        assert hydra_ours == hydra_theirs
        a, c = without_timing(results.read(ours)), without_timing(results.read(theirs))
        assert a.keys() == c.keys()
        numbers = ("final", "best", "selected", "history")
        # The command line names the launcher; all else the run's record says is the same.
        a["env"].pop("command"), c["env"].pop("command")
        assert {k: v for k, v in a.items() if k not in numbers} == \
            {k: v for k, v in c.items() if k not in numbers}
        for key in numbers[:3]:
            if c.get(key) is None:
                assert a.get(key) is None
            else:
                assert_same_metrics(a[key], c[key])
        for h, g in zip(a["history"], c["history"], strict=True):
            assert_same_metrics(h, g)
        text_ours, values_ours = numbers_apart("\n".join(log_lines(ours)))
        text_theirs, values_theirs = numbers_apart("\n".join(log_lines(theirs)))
        assert text_ours == text_theirs
        assert values_ours == pytest.approx(values_theirs, rel=1e-3)


@pytest.mark.numerics
def test_tensorboard_holds_the_same_tags_steps_and_hparams(sweeps):
    (basic, _), (population, _) = sweeps["basic"], sweeps["population"]
    for run_dir in sorted(basic.glob("*loss=l1*")):
        theirs = SummaryReader(str(run_dir)).scalars
        ours = SummaryReader(str(population / run_dir.name)).scalars
        key = ["tag", "step"]
        assert ours[key].values.tolist() == theirs[key].values.tolist()
        assert ours.value.tolist() == pytest.approx(theirs.value.tolist(), rel=1e-4, abs=1e-6)
        hparams = SummaryReader(str(population / run_dir.name), event_types={"hparams"}).hparams
        assert set(hparams.tag) == set(SummaryReader(str(run_dir),
                                                     event_types={"hparams"}).hparams.tag)


def report_table(sweep: Path) -> pd.DataFrame:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), str(sweep)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return pd.read_csv(sweep / "report" / "results.csv").drop(columns=["wall_s"])


def numbers_apart(text: str) -> tuple[str, list[float]]:
    """The text with every number taken out, and the numbers."""
    pattern = r"-?\d+\.\d+(?:e[-+]?\d+)?|-?\d+e[-+]?\d+"
    return re.sub(pattern, "#", text), [float(x) for x in re.findall(pattern, text)]


@pytest.mark.numerics
def test_the_report_cannot_tell_the_launchers_apart(sweeps):
    (basic, _), (population, _) = sweeps["basic"], sweeps["population"]
    ours, theirs = report_table(population), report_table(basic)
    assert list(ours.columns) == list(theirs.columns)
    numeric = [c for c in theirs.columns if pd.api.types.is_float_dtype(theirs[c])]
    other = [c for c in theirs.columns if c not in numeric]
    assert ours[other].astype(str).values.tolist() == theirs[other].astype(str).values.tolist()
    assert ours[numeric].fillna(-1).values.ravel().tolist() == pytest.approx(
        theirs[numeric].fillna(-1).values.ravel().tolist(), rel=1e-4, abs=1e-6)
    text_ours, values_ours = numbers_apart((population / "report" / "summary.md").read_text()
                                           .replace(str(population), "SWEEP"))
    text_theirs, values_theirs = numbers_apart((basic / "report" / "summary.md").read_text()
                                               .replace(str(basic), "SWEEP"))
    assert text_ours == text_theirs
    assert values_ours == pytest.approx(values_theirs, rel=1e-3, abs=2e-3)
    plots = sorted(p.name for p in (basic / "report").glob("*.png"))
    assert plots and plots == sorted(p.name for p in (population / "report").glob("*.png"))


def test_refused_jobs_and_the_exit_code_are_those_of_the_basic_launcher(tmp_path):
    sweep = ["-m", "task=regression", "loss=l1,ce", "task.outlier_fraction=0.1,1.5", *QUICK]
    outcomes = {}
    for name, extra in (("basic", []), ("population", POPULATION)):
        result = train_cli(*sweep, *extra, f"hydra.sweep.dir={tmp_path / name}")
        statuses = {p.parent.name: json.loads(p.read_text())["status"]
                    for p in (tmp_path / name).glob("*/metrics.json")}
        outcomes[name] = (result.returncode, closing_line(result), statuses,
                          result.stderr.strip().splitlines()[-1])
    assert outcomes["population"] == outcomes["basic"]
    assert outcomes["basic"][0] == 1
    assert sorted(outcomes["basic"][2].values()) == ["failed", "failed", "ok", "skipped"]


def test_runs_that_cannot_train_together_train_alone_and_say_why(tmp_path):
    """Nesterov, clipping and a schedule train together now; the CPU size rule does not."""
    result = train_cli("-m", "task=regression", "loss=l1,mse", "optim=sgd",
                       "optim.nesterov=true", "trainer.gradient_clip_val=1", "scheduler=cosine",
                       "trainer.max_epochs=1", "trainer.device=cpu", *TINY_REGRESSION,
                       *POPULATION, f"hydra.sweep.dir={tmp_path / 'a'}")
    assert result.returncode == 0, result.stderr
    assert "one by one" not in result.stdout
    assert "population: 2 runs train together in 1 population of 2" in result.stdout
    result = train_cli("-m", "task=regression", "loss=l1,mse", "trainer.max_epochs=1",
                       "trainer.device=cpu", *TINY_REGRESSION, *POPULATION,
                       "hydra.launcher.cpu_max_macs=10", f"hydra.sweep.dir={tmp_path / 'c'}")
    assert result.returncode == 0, result.stderr
    assert "train one by one: on the CPU a model of 5,376 multiply-adds" in result.stdout
    for sweep in ("a", "c"):
        statuses = [json.loads(p.read_text())["status"]
                    for p in (tmp_path / sweep).glob("*/metrics.json")]
        assert statuses == ["ok", "ok"]


def test_a_diverging_member_is_recorded_and_the_sweep_goes_on(tmp_path):
    result = train_cli("-m", "task=regression", "loss=mse", "optim=sgd", "optim.lr=0.01,1e6",
                       *QUICK, *POPULATION, f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    records = {r["lr"]: r for r in map(json.loads, map(Path.read_text,
                                                      tmp_path.glob("*/metrics.json")))}
    assert records[0.01]["status"] == "ok" and records[0.01]["epochs_completed"] == 2
    assert records[1e6]["status"] == "diverged" and "became" in records[1e6]["reason"]
    assert closing_line(result) == "2 job(s) this launch: 1 diverged, 1 ok"


# The kill test stops the sweep at an exact step (conftest.train_killed): tiny data does.
TINY = ["-m", "task=regression", "loss=l1,mse", "seed=0,1", "task.data_seed=0",
        *TINY_REGRESSION, "trainer.device=cpu", *POPULATION]
# SIGTERM is sent from outside once epoch 1 is on disk: epochs long enough to land in one.
SLOW = ["-m", "task=regression", "loss=l1,mse", "seed=0,1", "task.data_seed=0",
        "task.n_train=8000", "task.n_test=500", "trainer.device=cpu", *POPULATION]


def wait_for_checkpoints(sweep: Path, runs: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        done = 0
        for path in sweep.glob("*/metrics.json"):  # the 5-epoch runs' (folder names omit it)
            with contextlib.suppress(ValueError, KeyError):
                record = json.loads(path.read_text())
                done += (record["epochs_completed"] >= 1
                         and record["hparams"]["trainer.max_epochs"] == 5)
        if done >= runs:
            return
        time.sleep(0.02)
    raise AssertionError(f"never saw {runs} runs past their first epoch in {sweep}")


@pytest.mark.numerics
def test_a_killed_population_sweep_resumes_each_member(tmp_path):
    """SIGKILL early in epoch 2, the first epoch's checkpoints on disk; then the same
    command with trainer.resume=true ends as the uninterrupted sweep; finished runs (the
    1-epoch population, which never reaches epoch 2) are left alone."""
    sweep = [*TINY, "trainer.max_epochs=1,5"]
    full = train_cli(*sweep, f"hydra.sweep.dir={tmp_path / 'full'}")
    assert full.returncode == 0, full.stderr
    killed = tmp_path / "killed"
    train_killed(*sweep, f"hydra.sweep.dir={killed}", at="2:1")
    left = {p.parent.name: results.read(p.parent) for p in killed.glob("*/metrics.json")}
    assert sorted(r["status"] for r in left.values()) == ["ok"] * 4 + ["running"] * 4
    finished = {name: (killed / name / "metrics.json").read_text()
                for name, r in left.items() if r["status"] == "ok"}
    resumed = train_cli(*sweep, f"hydra.sweep.dir={killed}", "trainer.resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert closing_line(resumed) == "8 job(s) this launch: 4 ok; 4 already finished"
    for name, text in finished.items():
        assert (killed / name / "metrics.json").read_text() == text  # left alone
    for run_dir in (tmp_path / "full").iterdir():
        if not run_dir.is_dir():
            continue
        a, b = results.read(run_dir), results.read(killed / run_dir.name)
        assert b["status"] == "ok" and b["epochs_completed"] == a["epochs_completed"]
        for h, g in zip(without_timing(b)["history"], without_timing(a)["history"],
                        strict=True):
            # The resumed members may form other groups than the full run's (other batched
            # shapes, so other kernels): the tolerance of two training paths.
            assert_same_metrics(h, g)


def test_sigterm_records_every_member_interrupted_and_the_sweep_resumes(tmp_path):
    sweep = [*SLOW, "trainer.max_epochs=5"]
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *sweep,
                             f"hydra.sweep.dir={tmp_path}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_checkpoints(tmp_path, 4, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    assert "continue the sweep with the same command and trainer.resume=true" in stderr
    records = [results.read(p.parent) for p in tmp_path.glob("*/metrics.json")]
    assert len(records) == 4
    for record in records:
        assert record["status"] == "interrupted", record["reason"]
        assert record["reason"].startswith("SIGTERM during epoch")
    resumed = train_cli(*sweep, f"hydra.sweep.dir={tmp_path}", "trainer.resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert closing_line(resumed) == "4 job(s) this launch: 4 ok"


CUDA = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="no CUDA device on this machine (scripts/gpu_check.sh runs "
                                 "these where there is one)")


@CUDA
def test_on_cuda_a_population_sweep_matches_the_basic_launchers(tmp_path):
    sweep = ["-m", "task=regression", "loss=l1,mse", "seed=0,1", "task.data_seed=0",
             "trainer.device=cuda", "trainer.max_epochs=2", *TINY_REGRESSION]
    finals = {}
    for name, extra in (("basic", []), ("population", POPULATION)):
        result = train_cli(*sweep, *extra, f"hydra.sweep.dir={tmp_path / name}")
        assert result.returncode == 0, result.stderr
        finals[name] = {p.parent.name: results.read(p.parent)["final"]["test/mse"]
                        for p in (tmp_path / name).glob("*/metrics.json")}
    assert finals["population"] == pytest.approx(finals["basic"], rel=1e-3)


@pytest.mark.parametrize("overrides", [
    ["loss=l1", "seed=1", "task.outlier_fraction=0.2"],
    ["experiment=robustness", "loss=huber", "seed=2", "hydra.job.chdir=false"],
    # Typed configs refuse `+new.key` and `~key` (tests/test_schema.py), so: group lists,
    # a forced override and a list value.
    ["task=digits", "loss=gce", "loss.q=0.5", "model=cnn", "logger=[tensorboard,csv]",
     "++trainer.max_epochs=3", "model.channels=[8,16]"],
])
def test_shared_compositions_equal_hydras_own(overrides):
    """The launcher's shortcut gives each job exactly the config Hydra composes for it."""
    with config_loader() as loader:
        master = loader.load_configuration("train", ["hydra.sweep.dir=/tmp/x"],
                                           RunMode.MULTIRUN)
        shared = SharedCompositions(loader)
        for extra in ([], ["seed=7"]):  # the first is checked inside; the second is not
            ours = shared.take(master, [*overrides, *extra])
            theirs = loader.load_sweep_config(master, [*overrides, *extra])
            assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(theirs)
        assert shared.checked is True


@pytest.mark.filterwarnings("ignore:(?s).*validated against ConfigStore schema")
def test_the_launcher_config_composes_into_what_the_launcher_takes(tmp_path):
    from hydra.utils import instantiate

    from trainer.rundir import launch_checks

    cfg = compose_cfg(*POPULATION, "hydra.launcher.max_members=5",
                      f"hydra.sweep.dir={tmp_path}", hydra=True)
    launcher = instantiate(cfg.hydra.launcher)
    # By name: Hydra's plugin scan loads plugin modules afresh, so class objects differ.
    assert type(launcher).__name__ == "PopulationLauncher"
    # The overrides reach the launcher; the rest are the defaults the YAML and code share.
    assert (launcher.max_members, launcher.cpu_max_macs, launcher.executor) == (
        5, type(launcher)().cpu_max_macs, "local")
    # Each Slurm key is one of hydra/launcher=submitit_slurm's (a misspelt one fails here),
    # and the folder resolves inside the sweep.
    slurm = OmegaConf.to_container(cfg.hydra.launcher.slurm, resolve=True)
    assert slurm["submitit_folder"] == f"{tmp_path}/.submitit/%j"
    submitit = compose_cfg("hydra/launcher=submitit_slurm", hydra=True).hydra.launcher
    assert set(slurm) <= set(submitit) - {"_target_"}
    launch_checks.check(cfg, multirun=True)  # what a launch checks first passes


def test_population_lines_stay_short():
    """Issue 25: seed=range(200) logged 200 sizes in one line; a scheduler's reason to train
    alone was its raw keys, cut mid-interpolation."""
    from trainer.population import launcher, plan

    assert launcher._sizes([[0]] * 200) == "200 populations of 1"
    assert launcher._sizes([[0] * 64] * 3 + [[0] * 8]) == "3 populations of 64 and 1 of 8"
    assert launcher._ids(list(range(200))) == "#0-#199 (200 jobs)"
    assert launcher._ids([0, 2]) == "#0, #2"
    # A group the engine does not know (schedulers it does), named by its option.
    config = OmegaConf.create({"seed": 0, "optim": {"name": "adam"}, "trainer": {},
                               "warmup": {"name": "linear",
                                          "steps": "${trainer.max_epochs}"}})
    assert plan.alone_reason(config) == ("warmup=linear is not implemented by population "
                                         "training")
