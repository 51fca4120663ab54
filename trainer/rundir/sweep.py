"""A sweep's closing line: what became of each job of this launch, and a fitting exit code.

The sweep dir may hold runs of earlier launches, and a job may have been
refused (its run dir busy or holding another run) or found its run already
finished, so counting metrics.json files would misreport. Each job of this
launch instead notes its outcome in `<sweep dir>/.launches/<launch id>/<job
number>.json`; the launch id travels to the jobs in an environment variable,
which the basic, joblib and submitit launchers all pass on. The callback reads
those notes when the sweep ends, then removes them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lossbench import files
from lossbench.status import FINISHED

log = logging.getLogger("lossbench")

LAUNCH_ENV = "LOSSBENCH_LAUNCH"
LEDGER = ".launches"
# Outcomes besides a run's status: nothing written to the run dir, or nothing left to do.
REFUSED, FINISHED_BEFORE = "refused", "already finished"
ENDED_WELL = tuple(str(s) for s in FINISHED)


def note(run_dir: Path, outcome: str, reason: str | None = None) -> None:
    """Called by a sweep job: its outcome (a status, REFUSED or FINISHED_BEFORE) for the
    closing line. `running` at the start, so a job killed outright shows as unfinished."""
    launch = os.environ.get(LAUNCH_ENV)
    if not launch or not HydraConfig.initialized():
        return
    hydra = HydraConfig.get()
    folder = Path(os.path.abspath(hydra.sweep.dir)) / LEDGER / launch
    entry = {"run": run_dir.name, "outcome": outcome, "reason": reason}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        files.write_text(folder / f"{hydra.job.num}.json", json.dumps(entry) + "\n")
    except OSError as err:  # the job's own record matters more than the closing line
        log.warning("could not note job %s for the closing line: %s", hydra.job.num, err)


def _read(folder: Path) -> list[dict[str, Any]]:
    entries = []
    for path in sorted(folder.glob("*.json"), key=lambda p: int(p.stem)):
        try:
            entries.append(json.loads(path.read_text()))
        except ValueError:
            entries.append({"run": f"job {path.stem}", "outcome": "running", "reason": None})
    return entries


def closing(sweep_dir: Path, entries: list[dict[str, Any]]) -> tuple[str, list[str], int]:
    """(the closing line, error lines for stderr, exit code) for this launch's jobs."""
    outcomes = Counter(e["outcome"] for e in entries)
    ran = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())
                    if o not in (REFUSED, FINISHED_BEFORE))
    parts = [ran or "none ran"]
    parts += [f"{outcomes[o]} {o}" for o in (REFUSED, FINISHED_BEFORE) if outcomes[o]]
    line = f"sweep {sweep_dir}: {len(entries)} job(s) this launch: {'; '.join(parts)}"
    errors, code = [], 0
    unfinished = [e["run"] for e in entries
                  if e["outcome"] not in (*ENDED_WELL, REFUSED, FINISHED_BEFORE)]
    if unfinished:
        errors.append(f"error: {len(unfinished)} run(s) of the sweep did not finish: "
                      f"{', '.join(unfinished)}; see their metrics.json")
        code = 1
    refused = [e for e in entries if e["outcome"] == REFUSED]
    if refused:
        errors.append(f"error: {len(refused)} job(s) refused, their run dirs left untouched: "
                      f"{', '.join(e['run'] for e in refused)}; first reason: "
                      f"{refused[0]['reason']}")
        code = code or 2
    if not entries:
        line = f"sweep {sweep_dir}: no job of this launch reported back"
    return line, errors, code


class SweepSummary(Callback):
    """Gives the launch its id; at the end, one line counting this launch's jobs. Exits 1 when
    a run failed or did not finish, 2 when a job was refused, so scripts notice."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ[LAUNCH_ENV] = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        launch = os.environ.pop(LAUNCH_ENV, None)
        if launch is None:
            return
        folder = Path(os.path.abspath(sweep_dir)) / LEDGER / launch
        line, errors, code = closing(sweep_dir, _read(folder))
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # kept while another launch writes there
            folder.parent.rmdir()
        log.info(line)
        log.info("report: python scripts/report.py %s", sweep_dir)
        log.info("curves: tensorboard --logdir %s", sweep_dir)
        for error in errors:
            print(error, file=sys.stderr)
        if code:
            sys.exit(code)
