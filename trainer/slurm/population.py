"""`hydra/launcher=population hydra.launcher.executor=slurm`: each population as one Slurm job.

A sweep of N compatible runs becomes about N / max_members jobs instead of N, so a large
grid pays Slurm's queueing and Python's start-up once per population, not once per run.
The sweep is split here as the local launcher splits it (plan.py: runs that agree on all
but their per-member values, at most max_members per group, in groups of even size); runs
that must train alone are packed into jobs of max_members too, trained one by one inside.
Each job runs the local population launcher on its share of the sweep, so every run gets
the run dir, files and record it would get locally, and a job cancelled or stopped at its
time limit leaves its members recorded and resumable (trainer.resume=true), like any run.
The submission, the wait and the faults are trainer/slurm/array.py's.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from trainer.slurm import array

log = logging.getLogger("lossbench")

WHO = "hydra/launcher=population (executor=slurm)"


class PopulationJob:
    """What one Slurm job runs: the local population launcher on its share of the sweep.
    Pickled by submitit, so it holds only what Hydra's own Slurm launcher holds."""

    def __init__(self, max_members: int, cpu_max_macs: int, hydra_context: HydraContext,
                 task_function: TaskFunction, config: DictConfig) -> None:
        self.max_members, self.cpu_max_macs = max_members, cpu_max_macs
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config

    def __call__(self, overrides: list[list[str]], indices: list[int], state: Any
                 ) -> list[JobReturn]:
        return array.run_in_job(self._launch, (overrides, indices, state))

    def _launch(self, overrides: list[list[str]], indices: list[int], state: Any
                ) -> list[JobReturn]:
        from trainer.population.launcher import PopulationLaunch

        Singleton.set_state(state)
        launch = PopulationLaunch(self.max_members, self.cpu_max_macs, self.hydra_context,
                                  self.task_function, self.config)
        return launch.launch(overrides, indices[0], indices=indices)

    def checkpoint(self, overrides: list[list[str]], indices: list[int], state: Any) -> Any:
        """What submitit requeues at the time limit: the same runs, resumed."""
        import submitit

        return submitit.helpers.DelayedSubmission(
            self, [array.resumed(o) for o in overrides], indices, state)


def launch(max_members: int, cpu_max_macs: int, params: dict[str, Any],
           hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig,
           job_overrides: Sequence[Sequence[str]], initial_job_idx: int,
           compose: Callable[[DictConfig, list[str]], DictConfig]) -> list[JobReturn]:
    """Submit one job per population (and per pack of lone runs); wait; every job's returns
    in the sweep's order. `compose` gives a job's config (the sweeper's, where it made one)."""
    array.preflight(WHO, params)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    indexed = list(enumerate(job_overrides, start=initial_job_idx))
    for idx, overrides in indexed:
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
    packs = split(compose, config, indexed, max_members)
    log.info("%s: %d job(s) as %d Slurm job(s) of %s run(s), sweep dir %s", WHO,
             len(indexed), len(packs), ", ".join(str(len(p)) for p in packs), sweep_dir)
    job = PopulationJob(max_members, cpu_max_macs, hydra_context, task_function, config)
    submitted = array.submit(
        params, job, [[list(job_overrides[i - initial_job_idx]) for i in p] for p in packs],
        packs, [Singleton.get_state()] * len(packs))
    array.wait_or_cancel(submitted, params, WHO, "hydra.launcher.slurm.")
    returns: dict[int, JobReturn] = {}
    for slurm_job, pack in zip(submitted, packs, strict=True):
        for idx, ret in zip(pack, _results(slurm_job, pack, job_overrides, initial_job_idx),
                            strict=True):
            returns[idx] = ret
    return [returns[idx] for idx, _ in indexed]


def split(compose: Callable[[DictConfig, list[str]], DictConfig], config: DictConfig,
          indexed: list[tuple[int, Sequence[str]]], max_members: int) -> list[list[int]]:
    """The sweep's job indices, one list per Slurm job: compatible runs by plan.py's key in
    even groups of at most max_members; runs that train alone in packs of max_members."""
    from trainer.population import plan

    by_key: dict[str, list[int]] = defaultdict(list)
    alone: list[int] = []
    for idx, overrides in indexed:
        composed = compose(config, list(overrides))
        if plan.alone_reason(composed):
            alone.append(idx)
        else:
            body = OmegaConf.masked_copy(composed, [k for k in composed if k != "hydra"])
            by_key[plan.group_key(body)].append(idx)
    packs = []
    for same in [*by_key.values(), alone]:
        if not same:
            continue
        n = -(-len(same) // max_members)
        size = -(-len(same) // n)
        packs += [same[i:i + size] for i in range(0, len(same), size)]
    return packs


def _results(slurm_job: Any, pack: list[int], job_overrides: Sequence[Sequence[str]],
             initial_job_idx: int) -> list[JobReturn]:
    return list(array.returned(slurm_job, lambda: [
        array.no_result(job_overrides[i - initial_job_idx]) for i in pack]))
