"""Hydra's job set-up for population members: what `hydra.core.utils.run_job` does before
and after the task function, split in two so that training can happen in between.

`open_job` gives a member its run dir and on_job_start callbacks, as run_job does;
`write_hydra_files` puts down `.hydra/` once the member holds its run dir, as
trainer/rundir/hydra_output.py does for a single run; `close_job` sets the return value and
calls on_job_end once it has trained. `MemberLogs` keeps each member's log lines for its
own `<job name>.log` in a HeldFileHandler (configs/hydra/job_logging/lossbench.yaml's,
for one job), held until that file is the member's to write.
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobRuntime, JobStatus, _flush_loggers
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf._utils import get_omega_conf_dumper

from lossbench import files
from trainer.rundir import storage
from trainer.rundir.hydra_output import DOT_HYDRA, FILES, HeldFileHandler


def use(config: DictConfig) -> None:
    """Make `config` the one HydraConfig.get() and ${hydra:...} read, without a copy."""
    HydraConfig.instance().cfg = config


def output_dir(config: DictConfig) -> Path:
    """The job's run dir, as run_job resolves it (`hydra.sweep.dir`/`hydra.sweep.subdir`)."""
    use(config)
    sweep_dir = str(OmegaConf.select(config, "hydra.sweep.dir"))
    subdir = str(OmegaConf.select(config, "hydra.sweep.subdir"))
    return Path(os.path.abspath(os.path.join(sweep_dir, subdir)))


def open_job(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
             ) -> JobReturn:
    """run_job up to the task function: the run dir, on_job_start."""
    run_dir = output_dir(config)
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = str(run_dir)
    ret = JobReturn()
    ret.cfg = task_config(config)
    ret.hydra_cfg = config  # run_job's is a copy holding only `hydra`; this one holds more
    ret.overrides = OmegaConf.to_container(config.hydra.overrides.task)
    ret.working_dir = os.getcwd()
    run_dir.mkdir(parents=True, exist_ok=True)
    hydra_context.callbacks.on_job_start(config=config, task_function=task_function)
    return ret


def task_config(config: DictConfig) -> DictConfig:
    """The config the task function gets: the job's config without its hydra node
    (run_job deep-copies the whole config, hydra node included, then deletes it).
    The top level keeps its schema's type, which trainer/schemas.check walks from."""
    task_cfg = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
    task_cfg._metadata.object_type = config._metadata.object_type
    for flag, value in config._metadata.flags.items():
        task_cfg._set_flag(flag, value)
    return task_cfg


def write_hydra_files(run_dir: Path, task_cfg: DictConfig, config: DictConfig) -> None:
    """trainer/rundir/hydra_output.write for a member: config.yaml, hydra.yaml and overrides.yaml,
    the same text, without deep copies of the hydra node."""
    hydra_node = OmegaConf.to_container(config.hydra, enum_to_str=True)
    hydra_node["output_subdir"] = DOT_HYDRA  # where the files are, as with Hydra's default
    out = run_dir / DOT_HYDRA
    nodes = (task_cfg, {"hydra": hydra_node}, config.hydra.overrides.task)
    with storage.writing(out):
        out.mkdir(parents=True, exist_ok=True)
        for name, content in zip(FILES, nodes, strict=True):
            files.write_text(out / name, to_yaml(content))


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


class _Dumper(getattr(yaml, "CDumper", yaml.Dumper)):  # libyaml's emitter: twice as fast
    """OmegaConf's YAML dumper (its str representer) on libyaml's emitter."""


_Dumper.add_representer(str, get_omega_conf_dumper().str_representer)
_checks_left = 3  # the first job's three files are compared with OmegaConf's own output


def to_yaml(content: Any) -> str:
    """OmegaConf.to_yaml(content), by libyaml once it has agreed with OmegaConf."""
    global _checks_left
    if _checks_left < 0:
        return OmegaConf.to_yaml(content)
    container = content if isinstance(content, dict) else OmegaConf.to_container(
        content, resolve=False, enum_to_str=True)
    text = yaml.dump(container, default_flow_style=False, allow_unicode=True,
                     sort_keys=False, Dumper=_Dumper)
    if _checks_left > 0:
        reference = OmegaConf.to_yaml(content)
        _checks_left = _checks_left - 1 if text == reference else -1
        return reference
    return text


class MemberLogs(logging.Handler):
    """Stands in for the job log file handler: each record goes to the log file of the
    member whose code is running (`to(filename)`), a HeldFileHandler per member that holds
    the lines until `open()` for that member."""

    def __init__(self, template: logging.FileHandler) -> None:
        super().__init__(template.level)
        self.setFormatter(template.formatter)
        self.encoding = template.encoding
        self.files: dict[str, HeldFileHandler] = {}
        self.current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            "member_log", default=None)

    @contextmanager
    def to(self, filename: str) -> Iterator[None]:
        token = self.current.set(filename)
        try:
            yield
        finally:
            self.current.reset(token)

    def _file(self) -> HeldFileHandler | None:
        filename = self.current.get()
        if filename is None:
            return None
        if filename not in self.files:
            self.files[filename] = HeldFileHandler(filename, encoding=self.encoding)
            self.files[filename].setFormatter(self.formatter)
        return self.files[filename]

    def open(self) -> None:
        """The current member holds its run dir: its file opens, its held lines go there."""
        if (handler := self._file()) is not None:
            handler.open()

    def emit(self, record: logging.LogRecord) -> None:
        if (handler := self._file()) is not None:
            handler.emit(record)

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
