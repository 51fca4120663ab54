"""How the population launcher shares a sweep among Slurm jobs (trainer/slurm/population.py),
without a cluster: compatible runs by plan.py's key in even groups of at most max_members,
and runs that must train alone packed into jobs of their own."""

from __future__ import annotations

from pathlib import Path

from conftest import train_cli
from omegaconf import OmegaConf

from trainer.slurm.population import split


def compose_for(configs: dict[str, dict]):
    def compose(_master, overrides: list[str]):
        return OmegaConf.create(configs[overrides[0]])
    return compose


def job(loss: str, seed: int, epochs: int = 2, alone: bool = False) -> dict:
    env = {"OMP_NUM_THREADS": "1"} if alone else {}  # env_set: members share one environment
    return {"seed": seed, "loss": {"name": loss}, "optim": {"name": "adam", "lr": 1e-3},
            "trainer": {"max_epochs": epochs}, "task": {"name": "regression"},
            "hydra": {"job": {"env_set": env}}}


def test_compatible_runs_share_jobs_of_even_size_and_lone_runs_are_packed():
    configs = {f"{i}": job(loss, seed) for i, (loss, seed) in
               enumerate((loss, seed) for loss in ("l1", "mse", "huber") for seed in range(3))}
    configs |= {"e0": job("l1", 0, epochs=5), "e1": job("mse", 0, epochs=5)}
    configs |= {f"a{i}": job("l1", i, alone=True) for i in range(5)}
    indexed = list(enumerate([[name] for name in configs]))
    packs = split(compose_for(configs), None, indexed, max_members=4)
    names = [[indexed[i][1][0] for i in pack] for pack in packs]
    # nine alike runs: ceil(9 / 4) = 3 jobs of 3, not 4 + 4 + 1
    assert [len(p) for p in names[:3]] == [3, 3, 3]
    assert sorted(n for p in names[:3] for n in p) == sorted(str(i) for i in range(9))
    assert names[3] == ["e0", "e1"]  # another max_epochs: another population
    assert names[4:] == [["a0", "a1", "a2"], ["a3", "a4"]]  # alone, packed by max_members
    assert sorted(i for pack in packs for i in pack) == list(range(len(configs)))


def test_the_population_launchers_slurm_keys_are_submitit_slurms():
    root = Path(__file__).resolve().parents[1] / "configs" / "hydra" / "launcher"
    theirs = OmegaConf.load(root / "submitit_slurm.yaml")
    ours = OmegaConf.load(root / "population.yaml").slurm
    assert set(ours) == set(theirs) - {"_target_"}
    raw = OmegaConf.to_container(ours), OmegaConf.to_container(theirs)
    assert all(raw[0][k] == raw[1][k] for k in ours if k != "timeout_min")


def test_an_unknown_executor_is_one_line(tmp_path):
    done = train_cli("-m", "task=regression", "loss=l1", "trainer.max_epochs=1",
                     "hydra/launcher=population", "hydra.launcher.executor=nope",
                     f"hydra.sweep.dir={tmp_path}")
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["error: hydra.launcher.executor=nope is not valid: one of local, slurm."]
    assert not list(tmp_path.glob("*/metrics.json"))
