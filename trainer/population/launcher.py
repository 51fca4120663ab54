"""`hydra/launcher=population`: a sweep's compatible runs trained together, in this process.

The launcher composes each job as Hydra's basic launcher does (compose.py shares the
work) and takes each through the single run's own steps: its run dir claimed, its
`.hydra/` files and log, its checks and build (trainer/rundir/policy.py, trainer/run.py), so a
refused, skipped or failed job is recorded as it would be alone. Runs that agree on
everything but their per-member values (plan.py) and share their data arrays train as
one population (trainer/engine/); each member's end is recorded by trainer/rundir/policy.py
as a single run's is. The others train one by one (a population of one each, or Hydra's
run_job for a job the launcher cannot set up), and the launcher says which and why in one
line: torch.compile, or the CPU size rule. Runs with other data arrays or model shapes
form populations of their own.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from lossbench.contract import TaskData
from lossbench.errors import UserError
from trainer import objective, run, schemas
from trainer.engine import loop, stacked
from trainer.engine.member import SHARED, Member, same
from trainer.population import jobs, plan
from trainer.population.compose import SharedCompositions
from trainer.rundir import policy
from trainer.rundir.claim import Claim

log = logging.getLogger("lossbench")


@dataclasses.dataclass
class Entry:
    """A job of the sweep on its way through the launcher."""

    idx: int
    config: DictConfig
    ret: JobReturn | None = None
    claim: Claim | None = None
    progress: policy.Progress | None = None
    member: Member | None = None
    data_id: int = -1
    alone: str | None = None  # why it trains on its own, if it does

    @property
    def cfg(self) -> DictConfig:
        return self.ret.cfg

    @property
    def run_dir(self) -> Path:
        return Path(self.config.hydra.runtime.output_dir)


class PopulationLaunch:
    def __init__(self, max_members: int, cpu_max_macs: int, hydra_context: HydraContext,
                 task_function: TaskFunction, config: DictConfig) -> None:
        self.max_members, self.cpu_max_macs = max_members, cpu_max_macs
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config
        # The sweeper checks each job by composing it; the launcher reuses that composition.
        self.compositions = SharedCompositions(hydra_context.config_loader)
        hydra_context.config_loader = self.compositions

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int,
               indices: Sequence[int] | None = None) -> list[JobReturn]:
        """`indices`: the jobs' numbers in the sweep, where they are not consecutive (a share
        of the sweep given to one Slurm job, trainer/slurm/population.py)."""
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info(f"Launching {len(job_overrides)} jobs locally, in populations")
        entries = []
        for i, overrides in enumerate(job_overrides):
            idx = indices[i] if indices is not None else initial_job_idx + i
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            config = self.compositions.take(self.config, list(overrides))
            with open_dict(config):
                config.hydra.job.id = idx
                config.hydra.job.num = idx
            entries.append(Entry(idx, config))
        previous = HydraConfig.instance().cfg
        try:
            self._run(entries)
        except KeyboardInterrupt as err:
            print(f"interrupted ({err or 'SIGINT'}): each run's metrics.json says how far it "
                  f"got; continue the sweep with the same command and trainer.resume=true "
                  f"hydra.sweep.dir={self.config.hydra.sweep.dir}", file=sys.stderr)
            sys.exit(130)
        finally:
            HydraConfig.instance().cfg = previous
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return [e.ret for e in entries]

    def _run(self, entries: list[Entry]) -> None:
        partitions: dict[str, list[Entry]] = defaultdict(list)
        alone: list[Entry] = []
        for entry in entries:
            jobs.use(entry.config)
            entry.alone = plan.alone_reason(entry.config)
            if entry.alone:
                alone.append(entry)
            else:
                partitions[plan.group_key(_without_hydra(entry.config))].append(entry)
        _say_alone(alone)
        for part in partitions.values():
            self._partition(part)
        for entry in alone:  # exactly as the basic launcher runs a job
            entry.ret = run_job(hydra_context=self.hydra_context,
                                task_function=self.task_function, config=entry.config,
                                job_dir_key="hydra.sweep.dir",
                                job_subdir_key="hydra.sweep.subdir")
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)

    def _partition(self, part: list[Entry]) -> None:
        """Jobs whose configs agree: set each up, then train them in populations."""
        config = part[0].config
        part[0].ret = jobs.open_job(self.hydra_context, self.task_function, config)
        configure_log(config.hydra.job_logging, config.hydra.verbose)  # as run_job does
        router = _route_file_logs()
        shared: list[TaskData] = []
        built: dict[str, TaskData] = {}  # one build per task config (trainer/assemble.py)
        try:
            for entry in part:
                self._open(entry, router, shared, built)
            ready = [e for e in part if e.member is not None]
            _say_alone([e for e in ready if e.alone])
            groups = self._groups([e for e in ready if not e.alone])
            if groups:
                log.info("population: %d runs train together in %s", sum(map(len, groups)),
                         _sizes(groups))
            for group in groups:
                self._train(group)
            for entry in ready:
                if entry.alone:
                    self._train([entry])
        except KeyboardInterrupt as err:
            # Every member set up and not yet ended is recorded as interrupted, as it would
            # be alone; the launch then stops.
            for entry in part:
                if entry.member is not None and entry.member.record is None:
                    entry.member.error = entry.member.error or err
                    self._end(entry, reraise=False)
            raise
        finally:
            for entry in part:
                if entry.claim is not None:
                    entry.claim.release()
            if router is not None:
                logging.getLogger().removeHandler(router)
                router.close()

    def _open(self, entry: Entry, router: jobs.MemberLogs | None, shared: list[TaskData],
              built: dict[str, TaskData]) -> None:
        """A job's run dir claimed, its files written, then the single run's checks and build
        (trainer/rundir/policy.py's steps, in the order policy.guarded takes them)."""
        jobs.use(entry.config)
        if entry.ret is None:
            entry.ret = jobs.open_job(self.hydra_context, self.task_function, entry.config)
        cfg, run_dir = entry.cfg, entry.run_dir
        filename = jobs.member_log_file(entry.config)
        logs = partial(router.to, filename) if router and filename else nullcontext
        with logs():
            try:
                schemas.check_overrides(cfg, entry.config.hydra.overrides.task)
                objective.check(cfg)
            except UserError as err:  # as train.py: the whole sweep stops, with one line
                print(f"error: {err}", file=sys.stderr)
                sys.exit(2)
            claimed = policy.claim_run_dir(cfg, run_dir, multirun=True)
            if not isinstance(claimed, Claim):  # refused, or finished before
                self._close(entry, value=objective.value(cfg, claimed))
                return
            entry.claim, entry.progress = claimed, policy.Progress(cfg, run_dir, claimed)

            def start() -> Any:
                jobs.write_hydra_files(run_dir, cfg, entry.config)
                if router is not None:
                    router.open()
                for line in claimed.notes:
                    log.info(line)
                return run.setup(cfg, run_dir, entry.progress, built)

            job = policy.record_every_exit(start, cfg, run_dir, entry.progress, multirun=True)
        if isinstance(job, dict):  # skipped or failed
            recorded = policy.note_outcome(run_dir, job, True)
            self._close(entry, value=objective.value(cfg, recorded))
            return
        entry.member = Member(job, logs=logs)  # takes its random streams now
        entry.data_id = _share(job, shared)
        entry.alone = stacked.unsupported(job.parts.model) or self._busy_cpu(job)

    def _busy_cpu(self, job: Any) -> str | None:
        data = job.parts.data
        if data.x_train.device.type != "cpu":
            return None
        macs = stacked.cost(job.parts.model, data.input_shape).macs
        if macs <= self.cpu_max_macs:
            return None
        return (f"on the CPU a model of {macs:,} multiply-adds per sample keeps the cores busy "
                f"alone, so training runs together would not be faster "
                f"(hydra.launcher.cpu_max_macs={self.cpu_max_macs:,})")

    def _groups(self, entries: list[Entry]) -> list[list[Entry]]:
        """Entries with the same data arrays and start epoch, as few populations as
        max_members and a quarter of the free memory allow, of even sizes."""
        by_key: dict[tuple[int, int], list[Entry]] = defaultdict(list)
        for entry in entries:
            state = entry.member.job.parts.state
            by_key[(entry.data_id, 0 if state is None else state["epoch"])].append(entry)
        groups = []
        for alike in by_key.values():
            most = min(self.max_members, _fits_in_memory(alike[0].member.job.parts))
            n = -(-len(alike) // most)
            size = -(-len(alike) // n)
            groups += [alike[i:i + size] for i in range(0, len(alike), size)]
        return groups

    def _train(self, group: list[Entry]) -> None:
        """Train a population (or one run alone: a population of one), then record how
        each member ended."""
        members = [e.member for e in group]
        with members[0].logs() if len(members) == 1 else nullcontext():
            loop.train(members)  # re-raises an interrupt
        for entry in group:
            self._end(entry)

    def _end(self, entry: Entry, reraise: bool = True) -> None:
        """Record the member's end as policy.record_every_exit records a single run's; close
        its job."""
        member, cfg, run_dir = entry.member, entry.cfg, entry.run_dir
        jobs.use(entry.config)

        def outcome() -> dict[str, Any]:
            if member.error is not None:
                raise member.error
            return member.record

        with member.logs():
            try:
                record = policy.record_every_exit(outcome, cfg, run_dir, entry.progress,
                                                  multirun=True)
            except KeyboardInterrupt:
                member.record = {}  # recorded as interrupted
                self._close(entry, value=None)
                if reraise:
                    raise
                return
        member.record = record
        entry.claim.release()
        entry.claim = None
        noted = policy.note_outcome(run_dir, record, True)
        self._close(entry, value=objective.value(cfg, noted))

    def _close(self, entry: Entry, value: Any = None, error: BaseException | None = None
               ) -> None:
        jobs.use(entry.config)
        jobs.close_job(self.hydra_context, entry.config, entry.ret, value=value, error=error)


def _fits_in_memory(parts: Any) -> int:
    """How many members a quarter of the device's free memory holds (at least one)."""
    device = parts.data.x_train.device
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
    else:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    need = stacked.cost(parts.model, parts.data.input_shape).bytes(parts.settings.batch_size)
    return int(max(1, free // 4 // max(need, 1)))


def _without_hydra(config: DictConfig) -> DictConfig:
    return OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])


def _share(job: Any, shared: list[TaskData]) -> int:
    """Point the job at an equal copy of its shared data arrays already held; its index."""
    data = job.parts.data
    for i, other in enumerate(shared):
        if all(same(getattr(data, k), getattr(other, k)) for k in SHARED):
            job.parts.data = dataclasses.replace(
                data, **{k: getattr(other, k) for k in SHARED})
            return i
    shared.append(data)
    return len(shared) - 1


def _route_file_logs() -> jobs.MemberLogs | None:
    """Replace the job log file handler with one that writes to each member's own file."""
    root = logging.getLogger()
    files = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
    if not files:
        return None
    router = jobs.MemberLogs(files[0])
    for handler in files:
        root.removeHandler(handler)
        handler.close()
    root.addHandler(router)
    return router


def _sizes(groups: list[list[Entry]]) -> str:
    """`3 populations of 64 and 1 of 8`: each size once, however many populations there are
    (seed=range(200) listed 200 sizes before)."""
    counts = Counter(len(g) for g in groups)
    parts = [f"{n} population{'s' if n > 1 else ''} of {size}" if i == 0 else f"{n} of {size}"
             for i, (size, n) in enumerate(sorted(counts.items(), reverse=True))]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _ids(ids: list[int]) -> str:
    """`#0, #1, #2` for a few jobs; `#0-#199` (200 jobs) for a run of consecutive ones."""
    if len(ids) > 6 and ids == list(range(ids[0], ids[0] + len(ids))):
        return f"#{ids[0]}-#{ids[-1]} ({len(ids)} jobs)"
    if len(ids) > 6:
        return f"{', '.join(f'#{i}' for i in ids[:5])} and {len(ids) - 5} more"
    return ", ".join(f"#{i}" for i in ids)


def _say_alone(entries: list[Entry]) -> None:
    """One line per reason: which jobs train one by one, and why."""
    by_reason: dict[str, list[int]] = defaultdict(list)
    for entry in entries:
        by_reason[entry.alone].append(entry.idx)
    for reason, ids in by_reason.items():
        which = _ids(ids)
        log.info("population: %s train%s one by one: %s", which, "s" if len(ids) == 1 else "",
                 reason)
