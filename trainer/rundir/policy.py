"""How a run ends when something goes wrong, written once (after lightning-hydra-template's
task_wrapper): the run dir is claimed before anything is written there, a user's mistake
raises in a single run and is recorded in a sweep, any other exception in a sweep is
recorded and the sweep goes on, and Ctrl-C, SIGTERM or a crash leave a metrics.json
that says so."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig

from lossbench.errors import Misfit, UserError
from lossbench.status import RunStatus
from trainer.logger import RunLogger
from trainer.rundir import hydra_output, results, signals, sweep
from trainer.rundir.claim import Claim, claim
from trainer.rundir.lock import InUse

log = logging.getLogger("lossbench")

Record = dict[str, Any]
T = TypeVar("T")


class Progress:
    """How far a run got, so that however it ends its record says so; handed to the run."""

    def __init__(self, cfg: DictConfig, run_dir: Path, claimed: Claim) -> None:
        self.cfg, self.run_dir = cfg, run_dir
        self.started = time.perf_counter()
        self.state = claimed.state  # the checkpoint to continue from, or None
        self.record: Record | None = None
        self.written = False  # metrics.json holds this run's record
        self.logger: RunLogger | None = None  # training has started

    def checked(self, record: Record) -> None:
        """Every value has passed its check: the record an interrupt from here will write."""
        self.record = record

    def training(self, logger: RunLogger) -> None:
        """The logger has written the record: from here on every way out is recorded."""
        self.logger = logger
        self.written = True

    def where(self) -> str:
        if self.logger is None:
            return "during start-up"
        return f"during epoch {self.logger.record['epochs_completed'] + 1}"

    def end(self, status: RunStatus, reason: str) -> Record:
        """Record how the run ended. A record that cannot be written (a full disk) is
        logged, not raised over the error that ended the run."""
        try:
            if self.logger is not None:
                return self.logger.finish(status, reason)  # the committed epochs only
            if self.record is None:
                try:
                    self.record = results.new_record(self.cfg)
                except Exception:  # the config itself is what failed
                    self.record = results.fallback_record(self.cfg)
            self.record.update(status=str(status), reason=reason,
                               wall_s=round(time.perf_counter() - self.started, 3))
            results.write(self.run_dir, self.record)
            self.written = True
        except Exception as err:
            log.error("could not record status %s in %s: %s", status, self.run_dir, err)
        return self.record or {"status": str(status), "reason": reason}


def guarded(cfg: DictConfig, run_dir: Path, multirun: bool,
            body: Callable[[Progress], Record]) -> Record | None:
    """`body(progress)` as a run: every way out recorded.

    First the run dir is claimed (trainer/rundir/claim.py): locked, and checked for what it
    holds. A dir that is busy or may not be written is refused with nothing written
    there: UserError in a single run; in a sweep the job returns None, counted as
    refused. A resume of a finished run returns its record. Then `.hydra/` and the log
    are written and `body` goes. A UserError raises in a single run (recorded only once
    training has started: a full disk); in a sweep every exception is recorded
    (`skipped` for a pair that does not fit, `failed` otherwise) and the sweep goes
    on. Ctrl-C or SIGTERM records `interrupted`, during start-up too, and raises
    signals.Interrupted.

    The steps are `claim_run_dir`, `open_run_dir`, `record_every_exit` and
    `note_outcome`; the population launcher (trainer/population/) takes each of its
    members through the same steps.
    """
    claimed = claim_run_dir(cfg, run_dir, multirun)
    if not isinstance(claimed, Claim):
        return claimed
    try:
        progress = Progress(cfg, run_dir, claimed)

        def start_and_run() -> Record:
            open_run_dir(cfg, run_dir, claimed)
            return body(progress)

        record = record_every_exit(start_and_run, cfg, run_dir, progress, multirun)
        return note_outcome(run_dir, record, multirun)
    finally:
        claimed.release()


def claim_run_dir(cfg: DictConfig, run_dir: Path, multirun: bool) -> Claim | Record | None:
    """Claim the run dir: the Claim to go on with (release it when done), the record of a
    run that finished before, or None when a sweep job is refused."""
    signals.interrupt_on_sigterm()
    if multirun:
        sweep.note(run_dir, RunStatus.RUNNING)
    try:
        claimed = claim(run_dir, _hparams(cfg), bool(cfg.trainer.resume))
    except Exception as err:  # refused, or a run dir that cannot be written at all
        if not multirun:
            raise
        # Nothing can be recorded in a dir the job does not hold: counted as refused.
        if isinstance(err, InUse) and err.ours:  # not "in use by" this very process
            err = InUse(f"{run_dir} is the run dir of another job of this sweep; give each "
                        "job its own (hydra.sweep.subdir must differ between jobs, e.g. start "
                        "with ${hydra.job.num}).")
        log.error("refused: %s", err, exc_info=not isinstance(err, UserError))
        sweep.note(run_dir, sweep.REFUSED, str(err))
        return None
    if claimed.finished is None:
        return claimed
    claimed.release()
    log.info("%s already finished (status %s): nothing to resume", run_dir,
             claimed.finished["status"])
    if multirun:
        sweep.note(run_dir, sweep.FINISHED_BEFORE)
    return claimed.finished


def open_run_dir(cfg: DictConfig, run_dir: Path, claimed: Claim) -> None:
    """The run dir is the run's: Hydra's files and the log go there now."""
    hydra_output.write(run_dir, cfg)
    for line in claimed.notes:
        log.info(line)


def note_outcome(run_dir: Path, record: Record, multirun: bool) -> Record:
    """A sweep job's outcome, noted for the closing line."""
    if multirun:
        sweep.note(run_dir, record["status"], record["reason"])
    return record


def _hparams(cfg: DictConfig) -> Record | None:
    try:
        return results.flat_hparams(cfg)
    except Exception:  # an unresolvable value: the run fails and records why
        return None


def record_every_exit(step: Callable[[], T], cfg: DictConfig, run_dir: Path,
                      progress: Progress, multirun: bool) -> T | Record:
    """`step()`, with every way out recorded."""
    try:
        return step()
    except KeyboardInterrupt as err:
        reason = f"{str(err) or 'SIGINT'} {progress.where()}"
        progress.end(RunStatus.INTERRUPTED, reason)
        if multirun:
            sweep.note(run_dir, RunStatus.INTERRUPTED, reason)
        raise signals.Interrupted(reason, recorded=progress.written) from err
    except Exception as err:
        if not multirun and isinstance(err, UserError) and progress.logger is None:
            raise  # a single run's mistake (config, data, pair) before training: one line
        status = RunStatus.SKIPPED if isinstance(err, Misfit) else RunStatus.FAILED
        reason = str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
        record = progress.end(status, reason)
        if not multirun:
            raise
        # In a sweep one bad job must not stop the others: recorded, and the sweep goes on.
        if isinstance(err, UserError):
            log.warning("%s: %s", status, err)
        else:
            log.error("%s: %s", status, reason, exc_info=True)
        return record
