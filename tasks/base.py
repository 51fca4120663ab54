"""Checks more than one task shares."""

from __future__ import annotations

from lossbench.errors import is_int, require


def check_data_seed(seed: object) -> None:
    """numpy and scikit-learn take seeds from 0 to 2**32 - 1 only."""
    ok = is_int(seed) and 0 <= seed < 2**32
    require(ok, "task.data_seed", seed, "an integer from 0 to 2**32 - 1")
