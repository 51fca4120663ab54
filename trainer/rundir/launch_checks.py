"""What a launch is told about itself, checked before any run dir is claimed.

Hydra types the submitit launchers' and Optuna sweeper's keys (the plugins' schemas) but
not their ranges, and the population launcher's keys not at all: `max_members=0` ended
in a ZeroDivisionError with every run dir left `running`. The schemas below give each
key of configs/hydra/launcher/*.yaml and hparams_search=lr's sweeper that lossbench
relies on its type and range, in the format of every other key (lossbench/schema.py).
`hydra.job.chdir=true` is refused here too: lossbench resolves run dirs, the sweep's
ledger and relative paths (`task.data_dir`, `LOSSBENCH_LOGS`) from where the command
started, so a job moved into its run dir would write a second tree inside it and lose
its note to the sweep.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lossbench.errors import UserError
from lossbench.schema import Number, OneOf, fields_of, problem


@dataclass
class PopulationKeys:
    """configs/hydra/launcher/population.yaml."""

    # A population of none divides by zero; one member is the single-run path, batched.
    max_members: Annotated[int, Number(low=1)] = 64
    cpu_max_macs: Annotated[int, Number(low=0)] = 100_000
    # Where populations train: this process, or one Slurm job each (trainer/slurm/).
    executor: Annotated[str, OneOf(("local", "slurm"))] = "local"


@dataclass
class SubmititKeys:
    """The keys of configs/hydra/launcher/submitit_{local,slurm}.yaml that take numbers;
    Hydra checks their types against the plugin's schema, not their ranges."""

    timeout_min: Annotated[int, Number(low=1)] = 60
    nodes: Annotated[int, Number(low=1)] = 1
    tasks_per_node: Annotated[int, Number(low=1)] = 1
    cpus_per_task: Annotated[int | None, Number(low=1)] = None
    gpus_per_node: Annotated[int | None, Number(low=0)] = None
    mem_gb: Annotated[int | None, Number(low=1)] = None
    array_parallelism: Annotated[int, Number(low=1)] = 64
    signal_delay_s: Annotated[int, Number(low=0)] = 120
    max_num_timeout: Annotated[int, Number(low=0)] = 3


@dataclass
class OptunaKeys:
    """hparams_search=lr's sweeper (hydra-optuna-sweeper): n_trials=0 ended in Optuna's
    "No trials are completed yet", n_jobs=0 in a ZeroDivisionError."""

    n_trials: Annotated[int, Number(low=1)] = 16
    n_jobs: Annotated[int, Number(low=1)] = 1


# (group, option) -> the schema of the keys we set in configs/ (others are the plugins').
SCHEMAS: dict[tuple[str, str], type] = {
    ("launcher", "population"): PopulationKeys,
    ("launcher", "submitit_local"): SubmititKeys,
    ("launcher", "submitit_slurm"): SubmititKeys,
    ("sweeper", "optuna"): OptunaKeys,
}


def _typed(config: DictConfig, key: str, value: Any) -> str:
    """The value as the user typed it on the command line, else as Python writes it."""
    for override in OmegaConf.select(config, "hydra.overrides.hydra", default=None) or []:
        name, _, text = str(override).lstrip("+~").partition("=")
        if name == key:
            return text
    return repr(value)


def check(config: DictConfig, multirun: bool) -> None:
    """UserError naming the first launcher or sweeper key out of its type or range, an empty
    run or sweep dir, or hydra.job.chdir=true."""
    if OmegaConf.select(config, "hydra.job.chdir", default=False) is True:
        raise UserError("hydra.job.chdir=true is not valid: lossbench writes each run dir "
                        "itself and reads relative paths from where you start it; leave "
                        "hydra.job.chdir=false.")
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    if str(OmegaConf.select(config, key, default="")).strip() == "":
        raise UserError(f"{key}= is not valid: a folder path (empty would write into the "
                        "current directory).")
    if not multirun:
        return  # a single run uses no launcher or sweeper
    choices = OmegaConf.select(config, "hydra.runtime.choices", default={})
    for group in ("sweeper", "launcher"):
        schema = SCHEMAS.get((group, str(choices.get(f"hydra/{group}"))))
        if schema is None:
            continue
        node = OmegaConf.to_container(config.hydra[group], resolve=False)
        for key, field in fields_of(schema).items():
            if key in node and (allowed := problem(field, node[key])) is not None:
                full = f"hydra.{group}.{key}"
                raise UserError(f"{full}={_typed(config, full, node[key])} is not valid: "
                                f"{allowed}.")


class LaunchChecks(Callback):
    """Runs `check` first, before Hydra creates the run or sweep dir or any job starts."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, multirun=False)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, multirun=True)

    @staticmethod
    def _check(config: DictConfig, multirun: bool) -> None:
        try:
            check(config, multirun)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
