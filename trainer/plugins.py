"""Users' own losses, models and tasks, found by the Python convention: entry points.

An installed package that declares, in its pyproject.toml,

    [project.entry-points."lossbench.losses"]
    poly1 = "mypkg.losses:Poly1"

makes `loss=poly1` work in every command, as `lossbench.models` and `lossbench.tasks` do for
`model=` and `task=`; `lossbench.configs` names a package of YAML config groups (its
`experiment/x.yaml` is `experiment=x`). What each needs (docs/extending.md):

- a loss: a `lossbench.Loss` subclass; its keyword arguments after `kind` are its config
  keys, each annotated (the annotation is the key's schema, as for the built-ins);
- a model: an `nn.Module` subclass built as `Model(input_shape, n_outputs, **keys)`, its
  keys annotated likewise;
- a task: an object or module following `lossbench.Task` (KIND, N_OUTPUTS, METRICS, a
  `Config` dataclass whose keys all have defaults, `build`); it gets label noise, the
  validation split and the checks as every built-in does.

Each option's config is generated from the defaults in its signature (or Config) and
stored in Hydra's ConfigStore as `<group>/<name>`, beside the YAML files of the built-ins.
Every mistake (a package that fails to import, a class of the wrong kind, a parameter
without annotation, a name taken twice) is one UserError line naming the package, the
entry point and what is wrong.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import typing
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from lossbench.errors import UserError

GROUPS = {"loss": "lossbench.losses", "model": "lossbench.models", "task": "lossbench.tasks"}
CONFIGS = "lossbench.configs"  # a package of YAML config groups (hydra_plugins/lossbench)
# The keys every task config has (tasks/validation.py, tasks/noise.py, tasks/base.py), with
# the values the built-in tasks' YAML files give them.
TASK_DEFAULTS = {"data_seed": "${seed}", "batch_size": 64, "val_fraction": 0.1,
                 "val_clean": False, "label_noise": 0.0, "noise_type": "symmetric"}
_installed = False


def _where(ep: EntryPoint) -> str:
    dist = ep.dist.name if ep.dist is not None else "an unknown package"
    return f"plugin {dist}: entry point {ep.group} {ep.name} = {ep.value}"


def found(group: str) -> dict[str, tuple[Any, EntryPoint]]:
    """name → (the loaded object, its entry point), for one group; UserError on a clash
    between two plugins or an import that fails."""
    out: dict[str, tuple[Any, EntryPoint]] = {}
    for ep in entry_points(group=GROUPS[group]):
        if ep.name in out:
            raise UserError(f"{group}={ep.name} is declared twice: by {_where(out[ep.name][1])} "
                            f"and by {_where(ep)}; rename one of them.")
        try:
            obj = ep.load()
        except Exception as err:  # any error of the user's package, reported in one line
            first = (str(err).splitlines() or [""])[0]
            raise UserError(f"{_where(ep)} failed to import: {type(err).__name__}: "
                            f"{first}".rstrip(": ") + ".") from None
        out[ep.name] = (obj, ep)
    return out


def keys_of(cls: type, skip: int, where: str) -> list[tuple[str, Any, Any]]:
    """(name, annotation, default) of each keyword argument of cls.__init__ after the first
    `skip` positional ones; UserError naming any without an annotation."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1 + skip:]
    hints = typing.get_type_hints(cls.__init__, include_extras=True)
    bare = [p.name for p in params if p.name not in hints and p.kind is not p.VAR_KEYWORD]
    if bare:
        raise UserError(f"{where}: {cls.__name__}'s parameters {', '.join(bare)} have no "
                        "annotation; annotate each (e.g. `eps: float = 1.0`): the annotation "
                        "is the config key's type.")
    return [(p.name, hints[p.name], MISSING if p.default is p.empty else p.default)
            for p in params if p.kind is not p.VAR_KEYWORD]


def install() -> None:
    """Add every installed plugin to its group's registry and to Hydra's ConfigStore, once."""
    global _installed
    if _installed:
        return
    _installed = True
    import tasks
    from trainer import losses, models

    store = ConfigStore.instance()
    for name, (cls, ep) in found("loss").items():
        where = _where(ep)
        _not_builtin("loss", name, losses.LOSSES, where)
        keys = checked_loss(cls, where)
        losses.LOSSES[name] = cls
        store_option(store, "loss", name, losses.schema(name), {k: d for k, _, d in keys})
    for name, (cls, ep) in found("model").items():
        where = _where(ep)
        _not_builtin("model", name, models.MODELS, where)
        from torch import nn

        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise UserError(f"{where}: {cls!r} is not an nn.Module subclass taking "
                            "(input_shape, n_outputs, **keys).")
        keys = keys_of(cls, 2, where)
        schema = dataclasses.make_dataclass(
            f"{cls.__name__}Config", [("name", str, MISSING), *((k, t, MISSING)
                                                                 for k, t, _ in keys)])
        models.MODELS[name] = _model_builder(cls, [k for k, _, _ in keys])
        models.SCHEMAS[name] = schema
        store_option(store, "model", name, schema, {k: d for k, _, d in keys})
    for ep in entry_points(group=CONFIGS):
        _config_package(ep)
    for name, (task, ep) in found("task").items():
        where = _where(ep)
        _not_builtin("task", name, tasks.TASKS, where)
        missing = [a for a in ("KIND", "N_OUTPUTS", "METRICS", "Config", "build")
                   if not hasattr(task, a)]
        if missing:
            raise UserError(f"{where}: {task!r} does not follow lossbench.Task: it lacks "
                            f"{', '.join(missing)}.")
        tasks.TASKS[name] = ep.value
        schema = tasks.get(name).Config
        fields = {f.name: f for f in dataclasses.fields(schema)}
        values = {k: TASK_DEFAULTS[k] for k in TASK_DEFAULTS if k in fields}
        for key, field in fields.items():
            if field.default is not dataclasses.MISSING and field.default is not MISSING:
                values[key] = field.default
            elif field.default_factory is not dataclasses.MISSING:
                values[key] = field.default_factory()
        store_option(store, "task", name, schema, values)


def _config_package(ep: EntryPoint) -> None:
    """A `lossbench.configs` entry point names a package of YAML config groups, which
    hydra_plugins/lossbench/config_dirs.py adds to Hydra's search path."""
    try:
        spec = importlib.util.find_spec(ep.value)
    except Exception:  # a parent package that fails to import: reported as not found
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"{_where(ep)}: {ep.value} is not an importable package; name the "
                        "package (a folder with __init__.py) whose sub-folders are config "
                        "groups, e.g. mypkg.configs holding experiment/my_sweep.yaml.")


def checked_loss(cls: Any, where: str) -> list[tuple[str, Any, Any]]:
    """A plugin's or loss=custom's class: a Loss subclass with adapters and annotated keys."""
    from trainer import losses

    if not (isinstance(cls, type) and issubclass(cls, losses.Loss)):
        raise UserError(f"{where}: {cls!r} is not a lossbench.Loss subclass.")
    if not getattr(cls, "adapters", None):
        raise UserError(f"{where}: {cls.__name__} declares no `adapters` (the target kinds "
                        "it accepts and how scores and targets are adapted for each).")
    return keys_of(cls, 1, where)


def store_option(store: ConfigStore, group: str, name: str, schema: type, values: dict[str, Any]
           ) -> None:
    """The option's schema, as the built-ins' YAML files name it (`schema/<group>/<name>`),
    and the option itself, generated from its defaults: `<group>=<name>` composes."""
    store.store(group=f"schema/{group}", name=name, node=schema)
    filled = {k: v for k, v in {**values, "name": name}.items() if v is not MISSING}
    store.store(group=group, name=name, node=schema(**filled))


def _not_builtin(group: str, name: str, registry: dict, where: str) -> None:
    if name in registry:
        raise UserError(f"{where}: {group}={name} is already lossbench's own {group}; "
                        "rename the entry point.")


def _model_builder(cls: type, keys: list[str]) -> Any:
    def build(cfg: Any, input_shape: tuple[int, ...], n_outputs: int) -> Any:
        return cls(input_shape, n_outputs, **{k: cfg[k] for k in keys})
    return build
