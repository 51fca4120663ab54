"""Every config group's schema, registered with Hydra, and the one check of a composed config.

Each group option's schema sits beside the code that uses it (`Config` in each
task module, `models.SCHEMAS`, `optimizers.SCHEMAS`, each loss's signature,
`sinks.SCHEMAS`, `settings.TrainerConfig`). `register()` stores them in
Hydra's ConfigStore as `schema/<group>/<option>`; each YAML file in configs/
names its schema in its defaults list, so OmegaConf refuses wrong types and
overrides of undeclared keys while composing. `check()` does the rest after
composition, and `translate()` turns Hydra's refusals into the same one line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

import tasks
from lossbench import checking, refusals
from lossbench.metrics import direction
from lossbench.schema import Number
from trainer import losses, models, optimizers, schedulers, sinks
from trainer.objective import ObjectiveConfig, default_metric
from trainer.objective import check as check_objective
from trainer.rundir import names
from trainer.settings import TrainerConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@dataclass
class TrainConfig:
    """configs/train.yaml: the top level. Each group's node is typed by its option's schema."""

    # torch, numpy and scikit-learn all take seeds up to 2**32 - 1.
    seed: Annotated[int, Number(0, 2**32 - 1)] = MISSING
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    task: Any = MISSING
    loss: Any = MISSING
    model: Any = MISSING
    optim: Any = MISSING
    scheduler: Any = MISSING
    trainer: Any = MISSING
    logger: Any = None  # logger=[] chooses no sink: metrics.json only


def groups() -> dict[str, dict[str, type]]:
    """group -> option -> schema, for every option in configs/."""
    return {
        "task": {name: tasks.get(name).Config for name in tasks.names()},
        "loss": {name: losses.schema(name) for name in losses.LOSSES},
        "model": dict(models.SCHEMAS),
        "optim": dict(optimizers.SCHEMAS),
        "scheduler": dict(schedulers.SCHEMAS),
        "trainer": {"default": TrainerConfig},
        "logger": dict(sinks.SCHEMAS),
    }


# Groups whose options may be chosen together ('logger=[tensorboard,csv]'): each option's
# keys sit under <group>.<option> (its YAML's `# @package`), not under <group>.
SEVERAL = ("logger",)


def prefix(group: str, name: str) -> str:
    """Where an option's keys sit in the composed config: `task`, or `logger.csv`."""
    return f"{group}.{name}" if group in SEVERAL else group


def env_or(name: str, default: str) -> str:
    """`${env_or:LOSSBENCH_LOGS,logs}`: the variable's value, or `default` when it is unset
    or empty. oc.env keeps an empty value, and `LOSSBENCH_LOGS= python train.py` then
    wrote to /runs/... at the root of the file system."""
    return os.environ.get(name) or default


def register() -> None:
    """What Hydra must know before it composes configs/: the resolvers train.yaml's objective
    uses (the task's main metric, and that metric's direction), env_or and job_subdir for
    paths, and every schema, in its ConfigStore. Runs when this module is imported, and
    again where a process may not have."""
    OmegaConf.register_new_resolver("metric_direction", direction, replace=True)
    OmegaConf.register_new_resolver("main_metric", default_metric, replace=True)
    OmegaConf.register_new_resolver("env_or", env_or, replace=True)
    names.register()  # the job_subdir of hydra.sweep.subdir
    store = ConfigStore.instance()
    if "schema" in store.repo:
        return  # stored already in this process (or handed over by a launcher)
    store.store(group="schema", name="train", node=TrainConfig)
    for group, options in groups().items():
        for name, schema in options.items():
            store.store(group=f"schema/{group}", name=name, node=schema)


def option_values(group: str, name: str) -> dict[str, Any]:
    """What configs/<group>/<name>.yaml sets, without the defaults list that names its schema."""
    values = OmegaConf.to_container(OmegaConf.load(CONFIGS / group / f"{name}.yaml"))
    values.pop("defaults", None)
    return values


def check(cfg: DictConfig) -> None:
    """Every key declared, every value allowed, and what ties keys together; else UserError."""
    checking.validate(cfg, groups())
    task = tasks.get(cfg.task.name, cfg.task)
    if hasattr(task, "check"):
        task.check(cfg.task)
    schedulers.check_run(cfg)
    check_objective(cfg)


def check_overrides(cfg: DictConfig, overrides: list[str]) -> None:
    """What OmegaConf lets through from the command line: a bool key given 2 or yes."""
    checking.check_booleans(cfg, overrides)


def translate(err: BaseException, args: Sequence[str] = ()) -> str | None:
    """The one line for a command line Hydra could not compose (`args`: its overrides, which
    Hydra's messages do not always name); None when the error is not the user's."""
    message = (refusals.translate(err, args) or _swept_key(err, args)
               or checking.translate(err, groups()))
    return None if message is None else " ".join(message.split())


def _swept_key(err: BaseException, args: Sequence[str]) -> str | None:
    """An unknown key whose group the sweep varies: the swept options, not the default."""
    said = checking.override_in(str(err))
    if said is None or not isinstance(err.__cause__, (ConfigAttributeError, ConfigKeyError)):
        return None
    return refusals.swept_key(*said, args, groups())


def refuse_before_compose(args: Sequence[str]) -> str | None:
    """What Hydra would compose but the user cannot mean (a list for a one-option group)."""
    return refusals.before_compose(args, [g for g in groups() if g not in SEVERAL])


register()  # whoever composes configs/ has imported this module (trainer.assemble does)
