"""Hydra's job set-up for population members: what `hydra.core.utils.run_job` does
before and after the task function, split in two so that training can happen between.

`open_job` gives a member the run dir, `.hydra/` files and on_job_start callbacks that the
basic launcher's run_job gives it; `close_job` sets its return value and calls
on_job_end once it has trained. `MemberLogs` sends each member's log lines to its own
`<job name>.log`, as run_job's logging configuration does for one job at a time.
"""

from __future__ import annotations

import contextvars
import copy
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobRuntime, JobStatus, _flush_loggers, _save_config
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write


def output_dir(config: DictConfig) -> Path:
    """The job's run dir, as run_job resolves it (`hydra.sweep.dir`/`hydra.sweep.subdir`)."""
    use(config)
    sweep_dir = str(OmegaConf.select(config, "hydra.sweep.dir"))
    subdir = str(OmegaConf.select(config, "hydra.sweep.subdir"))
    return Path(os.path.abspath(os.path.join(sweep_dir, subdir)))


def use(config: DictConfig) -> None:
    """Make `config` the one HydraConfig.get() and ${hydra:...} read, without a copy."""
    HydraConfig.instance().cfg = config


def open_job(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
             ) -> JobReturn:
    """run_job up to the task function: run dir, .hydra/ files, on_job_start."""
    run_dir = output_dir(config)
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = str(run_dir)
    ret = JobReturn()
    ret.cfg = task_config(config)
    ret.hydra_cfg = OmegaConf.masked_copy(config, "hydra")
    ret.overrides = OmegaConf.to_container(config.hydra.overrides.task)
    ret.working_dir = os.getcwd()
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.hydra.output_subdir is not None:
        hydra_output = run_dir / str(config.hydra.output_subdir)
        _save_config(ret.cfg, "config.yaml", hydra_output)
        _save_config(ret.hydra_cfg, "hydra.yaml", hydra_output)
        _save_config(config.hydra.overrides.task, "overrides.yaml", hydra_output)
    hydra_context.callbacks.on_job_start(config=config, task_function=task_function)
    return ret


def task_config(config: DictConfig) -> DictConfig:
    """The config the task function gets: the job's config without its hydra node."""
    task_cfg = copy.deepcopy(config)
    with read_write(task_cfg), open_dict(task_cfg):
        del task_cfg["hydra"]
    return task_cfg


def close_job(hydra_context: HydraContext, config: DictConfig, ret: JobReturn,
              value: Any = None, error: BaseException | None = None) -> JobReturn:
    """run_job after the task function: its return value (or error), on_job_end."""
    if error is None:
        ret.return_value, ret.status = value, JobStatus.COMPLETED
    else:
        ret.return_value, ret.status = error, JobStatus.FAILED
    ret.task_name = JobRuntime.instance().get("name")
    _flush_loggers()
    hydra_context.callbacks.on_job_end(config=config, job_return=ret)
    return ret


class MemberLogs(logging.Handler):
    """Stands in for the job log file handler: writes each record to the log file of the
    member whose code is running (`to(member)`), as if each member ran alone."""

    def __init__(self, template: logging.FileHandler) -> None:
        super().__init__(template.level)
        self.setFormatter(template.formatter)
        self.mode, self.encoding = template.mode, template.encoding
        self.files: dict[str, logging.FileHandler] = {}
        self.current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            "member_log", default=None)

    @contextmanager
    def to(self, filename: str) -> Iterator[None]:
        token = self.current.set(filename)
        try:
            yield
        finally:
            self.current.reset(token)

    def emit(self, record: logging.LogRecord) -> None:
        filename = self.current.get()
        if filename is None:
            return
        if filename not in self.files:
            handler = logging.FileHandler(filename, mode="a", encoding=self.encoding, delay=True)
            handler.setFormatter(self.formatter)
            self.files[filename] = handler
        self.files[filename].emit(record)

    def close(self) -> None:
        for handler in self.files.values():
            handler.close()
        super().close()


def member_log_file(config: DictConfig) -> str | None:
    """The job log file run_job's logging config would open for this job, if any."""
    handlers = OmegaConf.select(config, "hydra.job_logging.handlers") or {}
    for name in handlers:
        spec = handlers[name]
        if "FileHandler" in str(spec.get("class", "")) and "filename" in spec:
            return str(spec.filename)
    return None

