"""Hydra's refusals of a command line, each as the one line `error: ...` promises.

Hydra words some mistakes over several lines (an unknown group option lists every
option and the search path; `a,b` without -m prints a numbered hint; the override
lexer draws a caret) and raises a plain ValueError for a group set to null. This
module finds the override behind each and words it in the project's format:
`<override> is not valid: <what is allowed>.` It reads the command line itself, as
Hydra's messages do not always say which override they mean.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from hydra.errors import HydraException, OverrideParseException

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic"


@functools.cache
def _loader() -> Any:  # Hydra's ConfigLoaderImpl, imported only when needed
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path

    return ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONFIGS)))


def group_options(group: str) -> list[str]:
    """The options of a config group (ours, Hydra's, plugins'), as Hydra lists them."""
    try:
        return list(_loader().get_group_options(group))
    except Exception:  # a group Hydra does not know: nothing to list
        return []


def is_group(key: str) -> bool:
    try:
        return bool(_loader().repository.group_exists(key))
    except Exception:
        return False


def _overrides(args: Iterable[str]) -> list[str]:
    """The command line's overrides: arguments with '=' or '~', not flags."""
    return [a for a in args if not a.startswith("-") and ("=" in a or a.startswith("~"))]


def _parse(arg: str) -> Any:  # Hydra's Override
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_override(arg)


def _one_of(group: str) -> str:
    options = group_options(group)
    return f"one of {', '.join(options)}" if options else f"an option of {group}"


# Hydra's groups that take one option, besides lossbench's own.
HYDRA_SINGLE = ("hydra/launcher", "hydra/sweeper")


def before_compose(args: Sequence[str], single_option_groups: Iterable[str]) -> str | None:
    """What Hydra would accept but cannot mean: a list for a group that takes one option
    (`loss=[l1,mse]` merges two schemas, `task=[mnist,fashion_mnist]` silently trains the
    last), or one every run needs deleted (`~task`). None when the command line is fine
    as far as this goes."""
    needed = set(single_option_groups)
    single = needed | set(HYDRA_SINGLE)
    for arg in _overrides(args):
        try:
            override = _parse(arg)
        except Exception:
            continue  # Hydra refuses it itself; `translate` words that
        if override.is_delete() and override.key_or_group in needed:
            group = override.key_or_group
            return f"{arg} is not valid: every run needs a {group}, {_one_of(group)}."
        if override.key_or_group in single and isinstance(override._value, list):
            names = ",".join(str(v) for v in override._value)
            group = override.key_or_group
            if group in HYDRA_SINGLE:
                return f"{arg} is not valid: {_one_of(group)}, not a list."
            return (f"{arg} is not valid: one {group} per run; to train several, sweep them "
                    f"with -m {group}={names}.")
    return None


def _null_group(args: Sequence[str]) -> str | None:
    """`loss=null`: Hydra's ValueError does not say which override was null."""
    for arg in _overrides(args):
        try:
            override = _parse(arg)
        except Exception:
            continue
        group = override.key_or_group
        if override._value is None and not override.is_delete() and is_group(group):
            return (f"{arg} is not valid: {_one_of(group)} (a config group cannot be null; "
                    f"leave {group} out for its default).")
    return None


def _unparsable(args: Sequence[str], err: BaseException) -> str:
    """The first override Hydra's grammar refuses, and why, in one line."""
    for arg in _overrides(args):
        try:
            _parse(arg)
        except Exception as bad:
            why = str(bad).splitlines()[0].strip()
            return (f"{arg} cannot be read as an override ({why}); quote a value with "
                    f"special characters, e.g. 'key=\"value\"'; see {GRAMMAR}.")
    return f"{str(err).splitlines()[0].strip()}; see {GRAMMAR}."


def _from_hydra(tb: TracebackType | None) -> bool:
    """Whether the innermost frame is Hydra's own code: its plain ValueErrors are refusals."""
    last = None
    while tb is not None:
        last, tb = tb, tb.tb_next
    return last is not None and str(last.tb_frame.f_globals.get("__name__")).startswith("hydra.")


def translate(err: BaseException, args: Sequence[str]) -> str | None:
    """One line for a refusal Hydra raised while reading the command line; None when
    `err` is something else (lossbench.checking words OmegaConf's refusals)."""
    text = str(err)
    if isinstance(err, ValueError) and "Config group override must be" in text:
        return _null_group(args) or f"{text.splitlines()[0]}."
    if isinstance(err, OverrideParseException):
        return _unparsable(args, err)
    if isinstance(err, ValueError) and _from_hydra(err.__traceback__):
        return text.splitlines()[0] if text else type(err).__name__
    if not isinstance(err, HydraException):
        return None
    if found := re.search(r"Could not find '([^']*)/([^'/]*)'", text):
        group, name = found[1], found[2]
        return f"{group}={name} is not valid: {_one_of(group)}."
    if found := re.search(r"Ambiguous value for argument '([^=']+)=([^']*)'", text):
        key, value = found[1], found[2]
        values = ", ".join(v for v in value.split(",") if v)
        return (f"{key}={value} is not valid in a single run: add -m to sweep over {values}; "
                f"write a list as {key}=[{value}], a string as {key}='{value}'.")
    return None


def swept_key(key: str, value: str, args: Sequence[str],
              schemas: Mapping[str, Mapping[str, type]]) -> str | None:
    """A key refused while a sweep is composed, when its group is swept (`-m loss=huber,
    smoothl1 loss.delta=0.5`): Hydra composes a sweep with the group's default first, so
    its message would blame that default (`no such key in loss=mse`). This one names the
    swept options instead. None when the key's group is not swept."""
    from lossbench.schema import fields_of

    if not any(a in ("-m", "--multirun") for a in args):
        return None
    group, _, leaf = key.partition(".")
    if group not in schemas or not leaf or "." in leaf:
        return None
    for arg in _overrides(args):
        try:
            override = _parse(arg)
        except Exception:
            continue
        if override.key_or_group != group or not override.is_sweep_override():
            continue
        swept = list(dict.fromkeys(override.sweep_string_iterator()))
        known = [n for n in swept if n in schemas[group]]
        has = [n for n in known if leaf in fields_of(schemas[group][n])]
        lacks = [n for n in swept if n not in has]
        if not has:
            return (f"{key}={value} is not valid: no such key in any swept {group} "
                    f"({group}={','.join(swept)}).")
        if lacks:
            return (f"{key}={value} is not valid for every swept {group}: {leaf} is a key of "
                    f"{group}={','.join(has)}, not of {group}={','.join(lacks)}; sweep them "
                    f"separately.")
        return (f"{key}={value} is not valid beside a swept {group}: Hydra composes the sweep "
                f"with the default {group} first; write it as a sweep of one value, "
                f"{key}=choice({value}).")
    return None
