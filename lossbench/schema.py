"""Config schemas: each key's type and allowed values, declared once beside the code that uses it.

A group option's schema is a dataclass whose fields read `Annotated[type, spec]`:

    @dataclass
    class Config:
        name: str = MISSING
        n_train: Annotated[int, Number(low=1, size=True)] = MISSING

OmegaConf sees the plain type (it strips `Annotated`): while Hydra composes,
it refuses a wrong type (`abc` for an int, `maybe` for a bool, `5` for a
list) and an override of a key that does not exist. The spec adds what a type
cannot say: ranges, finiteness, choices, list lengths and duplicates. The same
declaration writes the "what is allowed" half of every error message and gives
the schema tests their invalid values, so a new key is checked and tested by
declaring it. Values stay in the YAML files, which are the schemas' instances.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Union

from lossbench.errors import is_int, is_number

HUGE = 10**11  # a size no machine holds: 10^11 units of anything is 400 GB as float32


class Spec:
    """What values of the right type are allowed; subclasses say how."""

    def ok(self, value: Any, field: Field) -> bool:
        return True

    def allowed(self, field: Field) -> str:
        raise NotImplementedError

    def out_of_range(self, field: Field) -> list[Any]:
        """Values of the right type just outside what is allowed."""
        return []

    def nonsense(self, field: Field) -> list[Any]:
        """Values of the right type that mean nothing here: inf, nan, [], duplicates, huge sizes."""
        return []


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


@dataclass(frozen=True)
class Number(Spec):
    """A number between optional bounds; finite unless a bound is itself infinite.

    `size`: the value sizes something held in memory (samples, layer widths);
    a run refuses a size that would not fit before it allocates anything.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    noun: str | None = None  # replaces "a number" / "an integer", e.g. "a fraction"
    size: bool = False
    text: str | None = None  # the whole description, where the bounds alone would puzzle

    @property
    def finite(self) -> bool:
        return self.low != -math.inf and self.high != math.inf

    def ok(self, value: Any, field: Field) -> bool:
        if math.isnan(value) or (self.finite and math.isinf(value)):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def allowed(self, field: Field, plural: bool = False) -> str:
        if self.text:
            return self.text
        whole = field.type is int or field.item is int
        noun = self.noun or (("integers" if plural else "an integer") if whole
                             else ("numbers" if plural else "a number"))
        low, high = self.low, self.high
        if low is not None and high is not None:
            if whole and not (self.low_open or self.high_open):
                return f"{noun} from {_num(low)} to {_num(high)}"
            return (f"{noun} in {'(' if self.low_open else '['}{_num(low)}, "
                    f"{_num(high)}{')' if self.high_open else ']'}")
        if not whole and self.finite:
            noun = f"finite {noun}" if plural else f"a finite {noun.removeprefix('a ')}"
        if low is not None:
            return f"{noun} {'>' if self.low_open else '>='} {_num(low)}"
        if high is not None:
            return f"{noun} {'<' if self.high_open else '<='} {_num(high)}"
        return noun

    def out_of_range(self, field: Field) -> list[Any]:
        whole = field.type is int or field.item is int
        step = 1 if whole else 0.5
        values = []
        if self.low is not None and math.isfinite(self.low):
            values.append(self.low if self.low_open else self.low - step)
        if self.high is not None and math.isfinite(self.high):
            values.append(self.high if self.high_open else self.high + step)
        if whole and self.high is not None:
            values.append(10**20)  # past any 64-bit integer: an overflow, not a range error
        return values

    def nonsense(self, field: Field) -> list[Any]:
        whole = field.type is int or field.item is int
        if whole:
            return [HUGE] if self.size else []
        return [v for v in (math.inf, -math.inf, math.nan) if not self.ok(v, field)][:2]


@dataclass(frozen=True)
class OneOf(Spec):
    """One of a few strings; `pattern` admits a family more (`cuda:N`), `hint` names it."""

    choices: tuple[str, ...]
    pattern: str | None = None
    hint: str | None = None

    def ok(self, value: Any, field: Field) -> bool:
        return value in self.choices or bool(self.pattern and re.fullmatch(self.pattern, value))

    def allowed(self, field: Field) -> str:
        return f"one of {', '.join(self.choices)}" + (f" (or {self.hint})" if self.hint else "")

    def out_of_range(self, field: Field) -> list[Any]:
        return ["nope"]


@dataclass(frozen=True)
class Items(Spec):
    """A list whose items are numbers as `item` says; its length and uniqueness."""

    item: Number
    min_len: int = 0
    max_len: int | None = None
    unique: bool = False
    noun: str | None = None  # replaces the items' description, e.g. "digits 0-9"

    def ok(self, value: Any, field: Field) -> bool:
        n = len(value)
        return (n >= self.min_len and (self.max_len is None or n <= self.max_len)
                and all(self.item.ok(v, field) for v in value)
                and not (self.unique and len(set(value)) != n))

    def allowed(self, field: Field) -> str:
        things = self.noun or self.item.allowed(field, plural=True)
        distinct = "distinct " if self.unique else ""
        if self.min_len == self.max_len:
            return f"a list of {self.min_len} {distinct}{things}"
        size = "a non-empty list" if self.min_len >= 1 else "a list"
        if self.max_len is not None:
            size += f" of at most {self.max_len}"
        return f"{size} of {distinct}{things}"

    def _fill(self, field: Field, value: Any) -> list[Any]:
        return [value] * max(self.min_len, 1)

    def out_of_range(self, field: Field) -> list[Any]:
        good = valid_examples(Field(field.item, None, False, self.item, None))[0]
        values = [self._fill(field, v) for v in self.item.out_of_range(field)]
        if self.min_len >= 2:
            values.append([good] * (self.min_len - 1))
        if self.max_len is not None:
            values.append([good] * (self.max_len + 1))
        return values

    def nonsense(self, field: Field) -> list[Any]:
        good = valid_examples(Field(field.item, None, False, self.item, None))
        values = [[]] if self.min_len >= 1 else []
        if self.unique:
            values.append([good[0], good[0]])
        if self.item.size:
            values.append(self._fill(field, HUGE))
        return values


@dataclass(frozen=True)
class Text(Spec):
    """Free text (a path, a metric name): any string; what it means is checked where it is used."""

    noun: str = "a string"

    def allowed(self, field: Field) -> str:
        return self.noun


@dataclass(frozen=True)
class Field:
    """One key of a schema: its plain type (object for Any), list item type, spec and default."""

    type: type
    item: type | None
    optional: bool
    spec: Spec | None
    default: Any


def _unwrap(hint: Any) -> tuple[Any, Spec | None, bool]:
    spec, optional = None, False
    if typing.get_origin(hint) is Annotated:
        hint, *extras = typing.get_args(hint)
        spec = next((e for e in extras if isinstance(e, Spec)), None)
    if typing.get_origin(hint) in (Union, types.UnionType) and type(None) in typing.get_args(hint):
        optional = True
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
        if spec is None:
            hint, spec, _ = _unwrap(hint)
    return hint, spec, optional


def fields_of(schema: type) -> dict[str, Field]:
    """The declared keys of a schema dataclass, in order."""
    hints = typing.get_type_hints(schema, include_extras=True)
    out = {}
    for f in dataclasses.fields(schema):
        hint, spec, optional = _unwrap(hints[f.name])
        item = None
        if typing.get_origin(hint) is list:
            item, hint = typing.get_args(hint)[0], list
        default = f.default if f.default is not dataclasses.MISSING else None
        out[f.name] = Field(object if hint is Any else hint, item, optional, spec, default)
    return out


@functools.cache
def extended(schema: type, extra: type) -> type:
    """`schema` with the keys of `extra` after its own: what a wrapper adds to every option
    of a group (label noise to each classification task). Cached: one class per pair."""
    return dataclasses.make_dataclass(schema.__name__, [], bases=(extra, schema))


def _typed(value: Any, kind: type | None) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return is_int(value)
    if kind is float:
        return is_number(value)
    return kind in (None, object) or isinstance(value, kind)


def problem(field: Field, value: Any) -> str | None:
    """What is allowed, when `value` (a plain Python value) is not; None when it is fine."""
    if value is None and field.optional:
        return None
    ok = _typed(value, field.type)
    if ok and field.type is list:
        ok = all(_typed(v, field.item) for v in value)
    if ok and field.spec is not None:
        ok = field.spec.ok(value, field)
    return None if ok else describe(field)


def describe(field: Field) -> str:
    """The "what is allowed" half of an error message."""
    if field.spec is not None:
        text = field.spec.allowed(field)
    else:
        text = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
                list: "a list"}.get(field.type, "a value")
    return f"{text}, or null" if field.optional else text


WRONG_TYPE: dict[type, list[Any]] = {
    int: ["abc", "2.5", "true"], float: ["abc", "true"], bool: ["maybe", "abc"],
    str: ["[1,2]"], list: ["5", "[abc]"],
}


def valid_examples(field: Field) -> list[Any]:
    """A few small allowed values, for property tests."""
    spec = field.spec
    if field.type is bool:
        return [True, False]
    if isinstance(spec, OneOf):
        return list(spec.choices)
    if isinstance(spec, Items):
        item = Field(field.item, None, False, spec.item, None)
        values = valid_examples(item)
        return [values[:1] * max(spec.min_len, 1), values[-1:] * max(spec.min_len, 1)]
    if isinstance(spec, Number):
        whole = field.type is int
        low = spec.low if spec.low is not None and math.isfinite(spec.low) else 0
        high = spec.high if spec.high is not None and math.isfinite(spec.high) else low + 4
        candidates = [low, low + 1, (low + high) / 2, high] if whole else [
            low, (low + high) / 2, low + (high - low) / 4]
        found = [c for c in candidates if (not whole or c == int(c)) and spec.ok(c, field)]
        return [int(c) if whole else float(c) for c in dict.fromkeys(found)]
    return []
