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

    def problem(self) -> str | None:
        """The first launcher key with a wrong type or value, worded; checked before any run
        of the sweep is claimed (Hydra checks these keys' names only)."""
        def whole(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        def shown(value: Any) -> str:  # as the user typed it on the command line
            if value is None or isinstance(value, bool):
                return {None: "null", True: "true", False: "false"}[value]
            return str(value)

        if not (whole(self.max_members) and self.max_members >= 1):
            return (f"hydra.launcher.max_members={shown(self.max_members)} is not valid: an "
                    "integer >= 1 (the most runs in one population).")
        if not (whole(self.cpu_max_macs) and self.cpu_max_macs >= 0):
            return (f"hydra.launcher.cpu_max_macs={shown(self.cpu_max_macs)} is not valid: an "
                    "integer >= 0 (multiply-adds per sample).")
        if self.executor not in ("local", "slurm"):
            return (f"hydra.launcher.executor={self.executor} is not valid: use local or "
                    "slurm.")
        return None

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
               ) -> Sequence[JobReturn]:
        if (problem := self.problem()) is not None:
            import sys

            print(f"error: {problem}", file=sys.stderr)
            sys.exit(2)
        if self.executor == "slurm":
            from omegaconf import OmegaConf

            from trainer.slurm import population

            params = OmegaConf.to_container(OmegaConf.create(self.slurm), resolve=True)
            return population.launch(self.max_members, self.cpu_max_macs, params,
                                     *self.context, job_overrides, initial_job_idx,
                                     compose=self.launch_impl.compositions.take)
        return self.launch_impl.launch(job_overrides, initial_job_idx)
