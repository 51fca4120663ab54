"""Taking a run dir before anything is written there: lock it, then decide what the run does.

Everything here happens before `.hydra/`, the log or metrics.json is touched, so
a run that is refused (the dir is busy, or holds a run it must not replace or
cannot read) leaves the dir exactly as it found it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from lossbench.status import FINISHED
from trainer.rundir import checkpoint, hydra_output, results, resume
from trainer.rundir.hydra_output import DOT_HYDRA
from trainer.rundir.lock import Refused, RunDirLock

log = logging.getLogger("lossbench")


# What lossbench writes atomically in a run dir (lossbench.files: a hidden sibling
# `.<name>.<random>`, then a rename); `scalars.csv` is logger=csv's default file.
ATOMIC_FILES = (results.METRICS_FILE, str(checkpoint.CHECKPOINT), str(checkpoint.POPULATION),
                "scalars.csv",
                *(f"{DOT_HYDRA}/{name}" for name in hydra_output.FILES))


class AlreadyHolds(Refused):
    """Without trainer.resume=true, a run dir holding a run is never written over."""


@dataclass
class Claim:
    lock: RunDirLock
    finished: dict[str, Any] | None = None  # resume=true on a run that ended for good
    state: dict[str, Any] | None = None  # the checkpoint to continue from (on the CPU)
    notes: list[str] = field(default_factory=list)  # what to log once the log is open

    def release(self) -> None:
        self.lock.release()


def claim(run_dir: Path, hparams: dict[str, Any] | None, resume_run: bool) -> Claim:
    """Lock `run_dir` and decide: start, continue from `state`, or nothing (`finished`).
    Raises a Refused error, with the lock released, when the run may not write there.
    `hparams` is None when the config cannot be resolved: the run will fail, and it may
    only do so in a dir that holds nothing it could be compared with."""
    lock = RunDirLock(run_dir).acquire()
    try:
        remove_leftovers(run_dir)
        out = _decide(run_dir, hparams, resume_run, Claim(lock))
    except BaseException:
        lock.release()
        raise
    if out.finished is None and out.state is None:
        # Starting from epoch 1: a dead earlier attempt's curves would mix with the new ones.
        for events in run_dir.glob("events.out.tfevents.*"):
            events.unlink()
    return out


def remove_leftovers(run_dir: Path) -> None:
    """Siblings a write cut short by SIGKILL left; only while holding the run dir, when
    no other process can be writing them."""
    for name in ATOMIC_FILES:
        path = run_dir / name
        for tmp in path.parent.glob(f".{path.name}.*"):
            tmp.unlink(missing_ok=True)


def _decide(run_dir: Path, hparams: dict[str, Any] | None, resume_run: bool, out: Claim) -> Claim:
    record = _record(run_dir)
    if not resume_run:
        if _holds_work(run_dir, record):
            raise AlreadyHolds(f"{run_dir} already holds a run: add trainer.resume=true to "
                               "continue it, or choose another run dir.")
        if record is not None:
            out.notes.append(f"replacing a run that completed no epoch ({record['status']})")
        return out
    # The config must match the recorded one: finished or not, with or without a checkpoint.
    recorded = record["hparams"] if record is not None else _hydra_hparams(run_dir)
    if hparams is None and (recorded is not None or _has_checkpoint(run_dir)):
        raise Refused(f"trainer.resume=true but this run's config cannot be resolved, so it "
                      f"cannot be compared with the run in {run_dir}; fix the config first.")
    if recorded is not None:
        resume.check_same_run(recorded, hparams, run_dir)
    if record is not None and record["status"] in FINISHED:
        if not _extends(run_dir, record, hparams):
            out.finished = record
            return out
        out.notes.append(f"trainer.max_epochs raised to {hparams['trainer.max_epochs']}: "
                         f"continuing the finished run after epoch {record['epochs_completed']}")
    out.state = checkpoint.load(run_dir, torch.device("cpu"))
    if out.state is not None and record is not None and record.get("hparams_written"):
        out.state["record"]["hparams_written"] = True  # an extended run: HParams are there
    if out.state is not None:
        resume.check_same_run(out.state["record"]["hparams"], hparams, run_dir)
        if problem := results.problems(out.state["record"]):
            raise checkpoint.CorruptCheckpoint(
                f"{run_dir / checkpoint.CHECKPOINT} holds a record lossbench cannot use "
                f"({problem}); delete it to restart the run from epoch 1, or start over in "
                "another run dir.")
    elif record is not None or (run_dir / DOT_HYDRA).is_dir():
        done = record["epochs_completed"] if record is not None else 0
        out.notes.append(f"no checkpoint in {run_dir}: starting over from epoch 1"
                         + (f" (the record claimed {done} epoch(s))" if done else ""))
    return out


def _extends(run_dir: Path, record: dict[str, Any], hparams: dict[str, Any] | None) -> bool:
    """A resume that raises trainer.max_epochs past what an `ok` run completed continues it
    from its checkpoint (README: a resume may raise max_epochs). A diverged or skipped run
    stays as it ended: more epochs would not change why."""
    wanted = (hparams or {}).get("trainer.max_epochs")
    return (record["status"] == "ok" and isinstance(wanted, int)
            and wanted > record["epochs_completed"] and _has_checkpoint(run_dir))


def _record(run_dir: Path) -> dict[str, Any] | None:
    try:
        return results.read(run_dir)
    except FileNotFoundError:
        return None


def _holds_work(run_dir: Path, record: dict[str, Any] | None) -> bool:
    """Something starting over would lose: a finished run, a completed epoch, a checkpoint.
    A record of a run that failed or was stopped before its first epoch holds nothing."""
    if _has_checkpoint(run_dir):
        return True
    if record is None:
        return False
    return record["status"] in FINISHED or record["epochs_completed"] > 0


def _has_checkpoint(run_dir: Path) -> bool:
    paths = (run_dir / checkpoint.CHECKPOINT, run_dir / checkpoint.POPULATION)
    return any(path.exists() or path.is_symlink() for path in paths)


def _hydra_hparams(run_dir: Path) -> dict[str, Any] | None:
    """The config Hydra's files recorded, for a run killed before it wrote metrics.json."""
    path = run_dir / DOT_HYDRA / "config.yaml"
    if not path.exists():
        return None
    try:
        return results.flat_hparams(OmegaConf.load(path))
    except Exception as err:
        raise Refused(f"{path} cannot be read ({type(err).__name__}), so trainer.resume=true "
                      "cannot check the config; delete it, or choose another run dir.") from None
