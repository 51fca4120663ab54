"""The error types and value checks every room uses: one line for the user, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input: reported as one line, never as a traceback."""


class Misfit(UserError):
    """The task, loss and model cannot be trained together: `skipped` in a sweep."""


def require(ok: bool, key: str, value: object, allowed: str) -> None:
    """Fail with the one-line message format every check in the project uses."""
    if not ok:
        raise UserError(f"{key}={value!r} is not valid: {allowed}.")


def is_number(value: object) -> bool:
    """An int or float from a config; YAML's true/false are bools, which Python counts as ints."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: object) -> bool:
    """An int from a config, and not YAML's true/false."""
    return isinstance(value, int) and not isinstance(value, bool)
