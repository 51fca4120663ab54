"""Reading task=table's files: CSV, Parquet, NumPy `.npy` (a 2-D array) or `.npz` (named arrays).

Every refusal is one UserError line that names the file and the column: a file that is
missing, empty or larger than memory allows (refused before it is read), an unknown
column, a feature column that is not numbers, NaN or infinite values (unless
`task.dropna=true` drops their rows). Columns of a `.npy` file are named by their index
("0", "1", …); those of a `.npz` file by the array's key, or `key[j]` for the j-th column of
a 2-D array.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lossbench import memory
from lossbench.errors import UserError, require

SUFFIXES = (".csv", ".parquet", ".npy", ".npz")
# Bytes of memory per byte of file while reading: CSV text parsed into float64 columns,
# pandas' own copies and the tensors made of them.
MEMORY_FACTOR = 10


@dataclass(frozen=True)
class Table:
    """A file's rows: features as float64, the target as read (numbers or text)."""

    path: str
    features: list[str]
    target: str
    x: np.ndarray
    y: np.ndarray
    dropped: int  # rows with NaN or inf that task.dropna=true dropped


def _frame(path: str) -> tuple[list[str], list[np.ndarray]]:
    """The file's column names and columns, refused when missing, empty or too large."""
    file = Path(path)
    require(file.suffix in SUFFIXES, "task.path", path, f"a {', '.join(SUFFIXES)} file")
    require(file.is_file(), "task.path", path, "an existing file (not found)")
    size = os.path.getsize(file)
    require(size > 0, "task.path", path, "a file with rows (it is empty)")
    memory.require_fits(size * MEMORY_FACTOR, "task.path", path,
                        f"reading its {memory.human(size)}")
    try:
        if file.suffix in (".npy", ".npz"):
            return _arrays(file)
        import pandas as pd

        frame = pd.read_csv(file) if file.suffix == ".csv" else _parquet(file)
    except UserError:
        raise
    except Exception as err:  # the parser's own words, in one line
        first = (str(err).splitlines() or [""])[0]
        raise UserError(f"task.path={path!r} is not valid: it cannot be read as "
                        f"{file.suffix[1:]} ({type(err).__name__}: {first})") from None
    require(len(frame) > 0, "task.path", path, "a file with rows (it has a header only)")
    return [str(c) for c in frame.columns], [frame[c].to_numpy() for c in frame.columns]


def _parquet(file: Path) -> Any:  # a pandas DataFrame: pandas is imported late
    import pandas as pd

    try:
        return pd.read_parquet(file)
    except ImportError:
        raise UserError(f"task.path={str(file)!r} is not valid: reading Parquet needs pyarrow "
                        "(pip install pyarrow)") from None


def _arrays(file: Path) -> tuple[list[str], list[np.ndarray]]:
    loaded = np.load(file, allow_pickle=False)  # pickles run code: refused
    items = loaded.items() if file.suffix == ".npz" else [("", loaded)]
    names, columns = [], []
    for key, array in items:
        require(array.ndim in (1, 2) and len(array) > 0, "task.path", str(file),
                f"1-D or 2-D arrays with rows (array {key or 'in it'} has shape {array.shape})")
        if array.ndim == 1:
            names.append(key)
            columns.append(array)
        else:
            wide = array.shape[1] > 1 or not key
            names += [(f"{key}[{j}]" if key else str(j)) if wide else key
                      for j in range(array.shape[1])]
            columns += list(array.T)
    return names, columns


def read(path: str, target: str | None, features: list[str] | None, dropna: bool) -> Table:
    """The named target and feature columns (all others by default); target None: the last
    column (`y` in a `.npz` file)."""
    names, columns = _frame(path)
    if target is None:
        target = "y" if path.endswith(".npz") else names[-1]
    where = f"its columns are {', '.join(names[:20])}" + (", …" if len(names) > 20 else "")
    require(target in names, "task.target", target, f"a column of {path}; {where}")
    chosen = [n for n in names if n != target] if features is None else list(features)
    for name in chosen:
        require(name in names and name != target, "task.features", features,
                f"columns of {path} other than the target; no feature column {name!r}: "
                f"{where}")
    require(len(chosen) > 0, "task.features", features, f"at least one column of {path}")
    x = np.empty((len(columns[0]), len(chosen)), dtype=np.float64)
    for j, name in enumerate(chosen):
        x[:, j] = _numbers(columns[names.index(name)], path, name)
    y = columns[names.index(target)]
    bad = ~np.isfinite(x).all(axis=1)
    if y.dtype.kind in "biuf":
        bad |= ~np.isfinite(y.astype(np.float64))
    else:
        bad |= np.array([v is None or v != v for v in y])  # pandas' empty cells are NaN
    if bad.any() and not dropna:
        first = int(np.argmax(bad))
        column = next((n for j, n in enumerate(chosen) if not np.isfinite(x[first, j])), target)
        raise UserError(f"task.path={path!r} is not valid: column {column!r} holds NaN or "
                        f"infinite values ({int(bad.sum())} rows, the first is data row "
                        f"{first + 1}); drop those rows with task.dropna=true")
    require(not bad.all(), "task.path", path, "rows with finite values (task.dropna=true "
            "dropped every row)")
    return Table(path, chosen, target, x[~bad], y[~bad], int(bad.sum()))


def _numbers(column: np.ndarray, path: str, name: str) -> np.ndarray:
    if column.dtype.kind in "biuf":
        return column.astype(np.float64)
    try:
        return np.array([float(v) for v in column], dtype=np.float64)  # numbers read as text
    except (TypeError, ValueError):
        example = next(v for v in column if not _is_float(v))
        raise UserError(f"task.path={path!r} is not valid: feature column {name!r} holds "
                        f"text ({example!r}), not numbers; leave it out with task.features "
                        "or encode it as numbers") from None


def _is_float(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True
