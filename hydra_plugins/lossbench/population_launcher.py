"""Where Hydra finds `hydra/launcher=population`: Hydra loads launchers only from the
`hydra_plugins` namespace. The launcher's code is trainer/population/launcher.py,
imported when a sweep starts, so other commands do not pay for importing torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class PopulationLauncher(Launcher):
    """Trains a sweep's compatible runs together in one vectorised pass, each run's files
    as the basic launcher leaves them (configs/hydra/launcher/population.yaml)."""

    def __init__(self, max_members: int = 64, cpu_max_macs: int = 100_000,
                 executor: str = "local", slurm: Any = None) -> None:
        self.max_members, self.cpu_max_macs = max_members, cpu_max_macs
        self.executor, self.slurm = executor, slurm
        self.launch_impl: Any = None
        self.context: tuple[HydraContext, TaskFunction, DictConfig] | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        from trainer.population.launcher import PopulationLaunch

        # Kept before the local launch wraps the config loader: a Slurm job gets Hydra's own.
        self.context = (HydraContext(config_loader=hydra_context.config_loader,
                                     callbacks=hydra_context.callbacks), task_function, config)
        self.launch_impl = PopulationLaunch(self.max_members, self.cpu_max_macs, hydra_context,
                                            task_function, config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
               ) -> Sequence[JobReturn]:
        # Every key, executor included, was checked before the launch
        # (trainer/rundir/launch_checks.py's PopulationKeys).
        if self.executor == "slurm":
            from omegaconf import OmegaConf

            from trainer.slurm import population

            params = OmegaConf.to_container(OmegaConf.create(self.slurm), resolve=True)
            return population.launch(self.max_members, self.cpu_max_macs, params,
                                     *self.context, job_overrides, initial_job_idx,
                                     compose=self.launch_impl.compositions.take)
        return self.launch_impl.launch(job_overrides, initial_job_idx)
