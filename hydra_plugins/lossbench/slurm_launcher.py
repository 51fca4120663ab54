"""Where Hydra finds lossbench's `hydra/launcher=submitit_slurm`: hydra-submitit-launcher's
SlurmLauncher with the sweep's start, wait and requeue made safe (trainer/slurm/array.py,
imported only when a sweep starts or a job runs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher


class LossbenchSlurmLauncher(SlurmLauncher):
    """configs/hydra/launcher/submitit_slurm.yaml; its keys are the plugin's own."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
               ) -> Sequence[JobReturn]:
        from trainer.slurm import array

        return array.launch(self, job_overrides, initial_job_idx)

    def __call__(self, *args: Any) -> JobReturn:
        from trainer.slurm import array

        return array.run_in_job(super().__call__, args)

    def checkpoint(self, sweep_overrides: list[str], *args: Any) -> Any:
        """What submitit requeues at the time limit: the same job, resumed."""
        from trainer.slurm import array

        return super().checkpoint(array.resumed(sweep_overrides), *args)
