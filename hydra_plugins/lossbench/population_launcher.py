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

    def __init__(self, max_members: int = 64, cpu_max_macs: int = 100_000) -> None:
        self.max_members, self.cpu_max_macs = max_members, cpu_max_macs
        self.launch_impl: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        from trainer.population.launcher import PopulationLaunch

        self.launch_impl = PopulationLaunch(self.max_members, self.cpu_max_macs, hydra_context,
                                            task_function, config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
               ) -> Sequence[JobReturn]:
        return self.launch_impl.launch(job_overrides, initial_job_idx)
