"""Check a composed config against its schemas, and turn Hydra's composition errors into one line.

Both ends speak the one format users know: `<key>=<value> is not valid: <what is allowed>.`
`validate` walks the config after Hydra composed it: keys nobody declared
(`+foo=1`, `+trainer.maxepochs=3`), values outside their spec, interpolations
that do not resolve. `translate` handles what Hydra and OmegaConf refuse while
composing, before any lossbench code runs: a wrong type, an override of a key
that does not exist. Free-form places are nodes without a schema (Hydra's own
`hydra.*` is checked by Hydra).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, HydraException
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    OmegaConfBaseException,
    ValidationError,
)

from lossbench.errors import UserError
from lossbench.schema import describe, fields_of, problem

# group -> option -> schema dataclass: which option a typed node is, for names and suggestions.
Options = Mapping[str, Mapping[str, type]]
# Keys under the top level that no schema of ours declares: Hydra checks its own.
FREE_FORM = ("hydra",)


def _schema(node: Any) -> type | None:
    kind = OmegaConf.get_type(node) if isinstance(node, DictConfig) else None
    return kind if kind is not None and dataclasses.is_dataclass(kind) else None


def _option(schema: type, options: Options) -> tuple[str, list[str]] | None:
    """The group a schema belongs to and the option names that use it."""
    for group, by_name in options.items():
        if names := [name for name, cls in by_name.items() if cls is schema]:
            return group, names
    return None


def _raw(node: DictConfig, key: str) -> Any:
    """The value as written, interpolations unresolved: for messages."""
    child = node._get_node(key)
    if isinstance(child, (DictConfig, ListConfig)):
        return OmegaConf.to_container(child, resolve=False)
    return child._value() if child is not None else None


def declared_keys(node: Any, prefix: str = "") -> list[str]:
    """Every declared leaf key under a composed node, dotted."""
    schema = _schema(node)
    if schema is None:  # a group of several options (logger), or free-form
        return [k for key, child in node.items_ex(resolve=False) if isinstance(child, DictConfig)
                for k in declared_keys(child, f"{prefix}{key}.")] if isinstance(
                    node, DictConfig) else []
    keys = []
    for key in fields_of(schema):
        child = node._get_node(key) if key in node else None
        below = declared_keys(child, f"{prefix}{key}.") if isinstance(child, DictConfig) else []
        keys += below or [f"{prefix}{key}"]
    return keys


def unknown_key(key: str, value: str, node: Any, options: Options) -> str:
    """The line for a key no schema declares, with the closest declared key when one is close."""
    parent, _, leaf = key.rpartition(".")
    root = node._get_root() if isinstance(node, DictConfig) else node
    declared = declared_keys(root)
    close = difflib.get_close_matches(key, declared, n=1, cutoff=0.75) or [
        k for k in declared if k.endswith(f".{leaf}") and k.startswith(f"{parent}.")][:1]
    schema = _schema(node)
    where = _option(schema, options) if schema else None
    if where:  # options that share a schema (mnist, fashion_mnist): the one named here
        chosen = node.get("name") if node.get("name") in where[1] else where[1][0]
    here = f" in {where[0]}={chosen}" if where else ""
    elsewhere = [n for n, cls in options[where[0]].items() if leaf in fields_of(cls)
                 ] if where else []
    if elsewhere:  # the key exists, in another option of the group: say which
        hint = f"{leaf} is a key of {', '.join(f'{where[0]}={n}' for n in elsewhere)}."
    elif close:
        hint = f"did you mean {close[0]}?"
    else:
        siblings = [k for k in (fields_of(schema) if schema else list(node)) if k != leaf]
        keys = ", ".join(f"{parent}.{k}" if parent else k for k in siblings)
        hint = f"the keys of {parent} are {keys}." if parent else f"the top-level keys are {keys}."
    return f"{key}={value} is not valid: no such key{here}; {hint}"


def validate(cfg: DictConfig, options: Options, prefix: str = "") -> None:
    """Raise UserError naming the first undeclared key or disallowed value under `cfg`."""
    schema = _schema(cfg)
    if schema is None:
        return  # a free-form node
    fields = fields_of(schema)
    for key in cfg:
        if key not in fields and not (prefix == "" and key in FREE_FORM):
            raise UserError(unknown_key(f"{prefix}{key}", repr(_raw(cfg, key)), cfg, options))
    where = _option(schema, options)
    for key, field in fields.items():
        full = f"{prefix}{key}"
        try:
            value = cfg[key]
        except OmegaConfBaseException as err:  # an interpolation that does not resolve
            reason = str(err).splitlines()[0].rstrip(".")
            raise UserError(f"{full}={_raw(cfg, key)!r} is not valid: {reason}.") from None
        if isinstance(value, DictConfig) and _schema(value) is not None:
            validate(value, options, f"{full}.")
            continue
        if isinstance(value, DictConfig) and field.type is object:
            _validate_several(value, options, full)
            continue
        plain = OmegaConf.to_container(value) if isinstance(value, ListConfig) else value
        if key == "name" and where is not None and plain not in where[1]:
            raise UserError(f"{full}={plain!r} is not valid: {_name_rule(where)}.")
        if (allowed := problem(field, plain)) is not None:
            raise UserError(f"{full}={_shown(full, plain)} is not valid: {allowed}.")


def _shown(key: str, value: Any) -> str:
    """A refused value as the user typed it, for numbers: YAML reads 1e-400 as 0.0, and
    `optim.lr=0.0` would blame a value nobody wrote. Others as Python writes them."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            for override in HydraConfig.get().overrides.task:
                name, _, text = str(override).lstrip("+").partition("=")
                if name == key:
                    return text
    return repr(value)


def _validate_several(node: DictConfig, options: Options, group: str) -> None:
    """A group whose options may be chosen together (`logger=[tensorboard,csv]`): each key
    under it is a chosen option, typed by that option's schema; anything else is unknown."""
    for key in node:
        child = node._get_node(key)
        if isinstance(child, DictConfig) and _schema(child) is not None:
            validate(child, options, f"{group}.{key}.")
            continue
        known = ", ".join(options.get(group, {}))
        raise UserError(f"{group}.{key}={_raw(node, key)!r} is not valid: no such key; the keys "
                        f"under {group} are the options chosen with {group}=[...]: {known}.")


def _name_rule(where: tuple[str, list[str]]) -> str:
    """A group option's `name` is that option's: another one is chosen with the group."""
    group, names = where
    return (f"{' or '.join(names)}, the {group} this config describes; choose another with "
            f"{group}=<name>")


def _allowed_at(node: Any, key: str, options: Options) -> str | None:
    """What the key under a composed node allows, as its schema declares it."""
    while isinstance(node, ListConfig):  # an item of a list: describe the list
        node = node._get_parent()
    schema = _schema(node)
    if schema is None or key not in fields_of(schema):
        return None
    where = _option(schema, options)
    if key == "name" and where is not None:
        return _name_rule(where)
    return describe(fields_of(schema)[key])


def override_in(message: str) -> tuple[str, str] | None:
    """The key and value text of the override Hydra's message quotes."""
    found = re.search(r"(?:Error merging override|use) \+*([^=\s]+)=(.*)", message)
    return (found[1], found[2].strip()) if found else None


def translate(err: BaseException, options: Options) -> str | None:
    """The message for an error Hydra raised while composing the user's config; None for a bug.

    Type errors and unknown keys become the one line; Hydra's own messages
    (an unknown group option lists the options) are kept as they are.
    """
    if not isinstance(err, HydraException):
        return None
    cause = err.__cause__
    if not isinstance(err, ConfigCompositionException) or not isinstance(
            cause, OmegaConfBaseException):
        return str(err).strip()
    said = override_in(str(err))
    full_key = re.sub(r"\[\d+\]$", "", cause.full_key or "")
    if said is None or not full_key:
        return " ".join(f"{err} {str(cause).splitlines()[0]}".split())
    key, value = said
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)):
        return unknown_key(key, value, cause.parent_node, options)
    if isinstance(cause, ValidationError):
        leaf = full_key.rpartition(".")[2]
        allowed = (_allowed_at(cause.parent_node, leaf, options)
                   or str(cause).splitlines()[0].rstrip("."))
        return f"{key}={value} is not valid: {allowed}."
    return " ".join(f"{err} {str(cause).splitlines()[0]}".split())


def check_booleans(cfg: DictConfig, overrides: list[str]) -> None:
    """OmegaConf reads 2, "yes" or "on" given to a bool key as true; lossbench takes only
    true or false there, as the schema says (`trainer.diagnostics=2` is one line)."""
    for override in OverridesParser.create().parse_overrides(overrides=list(overrides)):
        parent, _, leaf = override.key_or_group.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        schema = _schema(node)
        field = fields_of(schema).get(leaf) if schema is not None else None
        if field is None or field.type is not bool or override.is_sweep_override():
            continue
        value = override.value()
        if not isinstance(value, bool) and not (value is None and field.optional):
            raise UserError(f"{override.key_or_group}={override.get_value_element_as_str()} "
                            f"is not valid: {describe(field)}.")
