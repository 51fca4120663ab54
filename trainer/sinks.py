"""Where scalars go besides metrics.json: the `logger` config group, one class per option.

`logger=tensorboard` (the default) writes TensorBoard event files, `logger=csv` writes
`scalars.csv` (step, tag, value, wall_time) in the run dir, `'logger=[tensorboard,csv]'`
both. Each option's config lands under `cfg.logger.<name>` and is passed here as keywords.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from omegaconf import MISSING

from lossbench import files
from lossbench.schema import Number, Text

CSV_COLUMNS = ("step", "tag", "value", "wall_time")


@dataclass
class TensorBoardConfig:
    """configs/logger/tensorboard.yaml: TensorBoard's keyword arguments."""

    # How often TensorBoard's writer thread flushes to disk; each epoch flushes anyway.
    flush_secs: Annotated[int, Number(low=1)] = MISSING


@dataclass
class CsvConfig:
    """configs/logger/csv.yaml: Csv's keyword arguments."""

    file: Annotated[str, Text("a file name, relative to the run dir")] = MISSING


class TensorBoard:
    """TensorBoard scalars, the environment as text, and the run's hparams at the end."""

    def __init__(self, run_dir: Path, purge_step: int | None, flush_secs: int = 30) -> None:
        from torch.utils.tensorboard import SummaryWriter  # slow import: only when training

        # purge_step: TensorBoard drops what an interrupted run logged after its
        # checkpoint, so a resumed run's curves have no duplicated steps.
        self.writer = SummaryWriter(log_dir=str(run_dir), flush_secs=flush_secs,
                                    purge_step=purge_step)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)

    def text(self, tag: str, text: str, step: int) -> None:
        self.writer.add_text(tag, text, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self, hparams: dict[str, Any] | None = None,
              metric_tags: list[str] | None = None) -> None:
        if hparams is not None:
            from torch.utils.tensorboard.summary import hparams as hparams_summary

            # Only the session summaries: TensorBoard builds the experiment from all
            # runs under --logdir, so a sweep's HParams tab lists every swept value.
            # The metric tags point at the scalars already logged; no duplicates.
            _, start, end = hparams_summary(hparams, dict.fromkeys(metric_tags or [], 0.0))
            writer = self.writer._get_file_writer()
            writer.add_summary(start)
            writer.add_summary(end)
        self.writer.close()


class Csv:
    """Every scalar as a row of `scalars.csv`; rows reach the disk at every flush (each epoch).

    A resumed run keeps the rows before its checkpoint's step and drops the rest, as
    TensorBoard's purge_step does, so the file never holds a step twice.
    """

    def __init__(self, run_dir: Path, purge_step: int | None,
                 file: str = "scalars.csv") -> None:
        self.path = run_dir / file
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = _rows_before(self.path, purge_step) if purge_step is not None else []
        # Rewritten whole (atomically) before appending: a crash leaves the old file or the
        # new one, never a mix. A fresh run (purge_step None) starts an empty file.
        files.write_text(self.path, _csv_text([CSV_COLUMNS, *kept]))
        self.file = open(self.path, "a", newline="")  # noqa: SIM115 (open until close())
        self.rows = csv.writer(self.file)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.rows.writerow((step, tag, repr(float(value)), f"{time.time():.3f}"))

    def text(self, tag: str, text: str, step: int) -> None:
        return None  # scalars only; the environment is in metrics.json

    def flush(self) -> None:
        self.file.flush()

    def close(self, hparams: dict[str, Any] | None = None,
              metric_tags: list[str] | None = None) -> None:
        self.file.close()


def _rows_before(path: Path, purge_step: int) -> list[list[str]]:
    """The complete rows of an earlier session whose step is below `purge_step`."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()  # torn by a kill in the middle of a row
    kept = []
    for row in list(csv.reader(lines))[1:]:  # the header first
        try:
            if len(row) == len(CSV_COLUMNS) and int(row[0]) < purge_step:
                float(row[2]), float(row[3])
                kept.append(row)
        except ValueError:
            continue
    return kept


def _csv_text(rows: list) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


SINKS = {"tensorboard": TensorBoard, "csv": Csv}
SCHEMAS: dict[str, type] = {"tensorboard": TensorBoardConfig, "csv": CsvConfig}
