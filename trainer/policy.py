"""How a run ends when something goes wrong, written once (after lightning-hydra-template's
task_wrapper): a user's mistake raises in a single run and is recorded in a sweep, and
Ctrl-C, SIGTERM or a crash leave a metrics.json that says so."""

from __future__ import annotations

import functools
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lossbench.errors import Misfit, UserError
from lossbench.status import RunStatus
from trainer import results
from trainer.logger import RunLogger

log = logging.getLogger("lossbench")

Record = dict[str, Any]


class RunDirTaken(UserError):
    """The run dir holds another run's metrics.json: starting over would overwrite it."""


def single_or_sweep(run: Callable[[DictConfig, Path], Record]
                    ) -> Callable[..., Record]:
    """`run(cfg, run_dir)` made into `run(cfg, run_dir, multirun=False)`.

    A UserError raises in a single run. In a multirun one bad job must not
    stop the others: it is recorded instead (`skipped` for a pair that does
    not fit, `failed` for a bad value) and the sweep goes on; a taken run dir
    is left as it is.
    """
    @functools.wraps(run)
    def wrapper(cfg: DictConfig, run_dir: Path, multirun: bool = False) -> Record:
        try:
            return run(cfg, run_dir)
        except RunDirTaken as err:
            if not multirun:
                raise
            log.error("%s", err)
            return results.read(run_dir)
        except UserError as err:
            if not multirun:
                raise
            status = RunStatus.SKIPPED if isinstance(err, Misfit) else RunStatus.FAILED
            record = results.new_record(cfg)
            record.update(status=str(status), reason=str(err))
            results.write(run_dir, record)
            log.warning("%s: %s", status, err)
            return record

    return wrapper


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("SIGTERM")


@contextmanager
def recorded_end(logger: RunLogger) -> Iterator[None]:
    """Ctrl-C or SIGTERM records `interrupted`, a crash `failed`; both still raise."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    except KeyboardInterrupt as err:
        epoch = logger.record["epochs_completed"] + 1
        logger.finish(RunStatus.INTERRUPTED, f"{str(err) or 'SIGINT'} during epoch {epoch}")
        raise
    except Exception as err:
        logger.finish(RunStatus.FAILED, f"{type(err).__name__}: {err}")
        raise
