"""`hydra/launcher=submitit_slurm`: the sweep as one Slurm job array, through submitit, with
what hydra-submitit-launcher leaves out for a sweep to end well on a real scheduler.

- Before any run is claimed: sbatch present, the controller up, the partition, account and
  QOS known to Slurm (trainer/slurm/scheduler.py), else one line and exit 2.
- While waiting: the queue is read with squeue, not sacct (which needs an accounting
  database and warns every minute without one); a job held pending for a reason no
  waiting changes (the request exceeds every node of the partition) cancels the array and
  ends the sweep with one line naming the hydra.launcher keys to change.
- A job cancelled or killed leaves no result: the sweep still ends, and its closing line
  counts the run from the run's own record (`interrupted`, resumable).
- In the job, Slurm's warning signal before the time limit (SIGUSR2, `signal_delay_s`
  early) stops the run as SIGTERM does, recorded after its last whole epoch; submitit
  then requeues the job with `trainer.resume=true`, so it continues from there.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides

from lossbench.errors import UserError
from trainer.rundir import signals
from trainer.slurm import scheduler

log = logging.getLogger("lossbench")

WHO = "hydra/launcher=submitit_slurm"
POLL_S = 2.0
ROOT = Path(__file__).resolve().parents[2]
# Keys of the launcher config that are submitit's executor settings, not sbatch's.
EXECUTOR_KEYS = ("submitit_folder", "max_num_timeout")


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
           ) -> list[JobReturn]:
    """Submit one array task per job, wait for all of them, return their JobReturns."""
    params = launcher.params
    preflight(WHO, params)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    log.info("%s: %d job(s) as one array, sweep dir %s", WHO, len(job_overrides), sweep_dir)
    job_params = []
    for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        job_params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}",
                           Singleton.get_state()))
    jobs = submit(params, launcher, *zip(*job_params, strict=True))
    wait_or_cancel(jobs, params, WHO, "hydra.launcher.")
    return [result(job, overrides) for job, overrides in zip(jobs, job_overrides, strict=True)]


def preflight(who: str, params: dict[str, Any]) -> None:
    """The cluster checked before any run is claimed: else one line and exit 2."""
    try:
        scheduler.check_reachable(who, params.get("partition"), params.get("account"),
                                  params.get("qos"))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def submit(params: dict[str, Any], fn: Callable[..., Any], *iterables: Sequence[Any]
           ) -> list[Any]:
    """One Slurm array task per item of `iterables`, running `fn` on it."""
    # The jobs import lossbench's Hydra plugins from the checkout, wherever they start.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return executor(params).map_array(fn, *iterables)


def wait_or_cancel(jobs: list[Any], params: dict[str, Any], who: str, keys: str) -> None:
    """`wait`; a job that can never start cancels them all, with one line and exit 2."""
    try:
        wait(jobs, params, who, keys)
    except UserError as err:
        scheduler.cancel([str(j.job_id) for j in jobs])
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def executor(params: dict[str, Any]) -> Any:
    """submitit's executor with the launcher's settings, as hydra-submitit-launcher builds it
    (its own launch() also waits on sacct, so lossbench builds the executor itself)."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    made = submitit.AutoExecutor(cluster="slurm", folder=params["submitit_folder"],
                                 slurm_max_num_timeout=params["max_num_timeout"])
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    made.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()
                              if k not in EXECUTOR_KEYS})
    return made


def wait(jobs: list[Any], params: dict[str, Any], who: str, keys: str) -> None:
    """Until every job has a result or has left the queue; UserError for a job that can never
    start, naming the settings to change as `<keys>cpus_per_task` and so on."""
    left = list(jobs)
    gone_since: dict[str, float] = {}
    while left:
        time.sleep(POLL_S)
        states = scheduler.queue([str(j.job_id) for j in left])
        still = []
        for job in left:
            if job.paths.result_pickle.exists():
                continue
            state, reason = states.get(str(job.job_id), ("", ""))
            if state == "PENDING" and reason in scheduler.NEVER_STARTS:
                raise UserError(never_starts(who, keys, str(job.job_id), reason, params))
            if not state:  # left the queue: its result file may be a moment behind
                first = gone_since.setdefault(str(job.job_id), time.monotonic())
                if time.monotonic() - first > 10 * POLL_S:
                    log.warning("slurm: job %s ended without a result (cancelled, killed or "
                                "out of memory); its run's metrics.json says how far it got",
                                job.job_id)
                    continue
            still.append(job)
        left = still


def never_starts(who: str, keys: str, job_id: str, reason: str, params: dict[str, Any]
                 ) -> str:
    node = scheduler.largest_node(params.get("partition"))
    where = f"partition {params['partition']}" if params.get("partition") else "the cluster"
    has = (f"; the largest node of {where} has {node.cpus} CPUs and {node.memory_mb / 1024:.1f}"
           " GB" if node else "")
    return (f"{who}: job {job_id} can never start: Slurm holds it pending ({reason}: "
            f"{scheduler.NEVER_STARTS[reason]}). Each job asks for "
            f"{params.get('cpus_per_task')} CPUs and {params.get('mem_gb')} GB{has}; lower "
            f"{keys}cpus_per_task and {keys}mem_gb (or gpus_per_node, timeout_min), or choose "
            f"another {keys}partition. The array is cancelled.")


def result(job: Any, overrides: Sequence[str]) -> JobReturn:
    """The job's JobReturn; for a job that ended without one (cancelled, or its run stopped
    by a signal), a completed return with no value: the run's record tells the rest."""
    return returned(job, lambda: no_result(overrides))


def returned(job: Any, missing: Callable[[], Any]) -> Any:
    """What the job returned (one run's JobReturn, or a population's list of them);
    `missing()` when it left nothing: each run keeps its own record, so that is no error."""
    if job.paths.result_pickle.exists():
        try:
            return job.results()[0]
        except Exception as err:  # the job raised outside its runs (each run is recorded)
            log.warning("slurm: job %s: %s", job.job_id, str(err).splitlines()[0])
    return missing()


def no_result(overrides: Sequence[str]) -> JobReturn:
    """A completed return with no value, for a job that left none: the sweep's closing line
    reads what became of its run from the run's own record."""
    ret = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
    ret.return_value = None
    return ret


def run_in_job(call: Callable[..., JobReturn], args: tuple) -> JobReturn:
    """The job's side: SIGUSR2 (the time limit is near) interrupts the run as SIGTERM does;
    once the run has recorded it, submitit's own handler requeues the job."""
    requeue = signal.getsignal(signal.SIGUSR2)  # submitit's: checkpoint, requeue, exit
    signals.interrupt_on(signal.SIGUSR2, "SIGUSR2 (the Slurm time limit is near)")
    try:
        return call(*args)
    except BaseException:
        if signals.received(signal.SIGUSR2) and callable(requeue):
            requeue(signal.SIGUSR2, None)  # raises SystemExit once the job is requeued
        raise


def resumed(overrides: list[str]) -> list[str]:
    """A requeued job's overrides: the same run, continued from its last whole epoch."""
    return [o for o in overrides if not o.startswith("trainer.resume=")] + ["trainer.resume=true"]
