"""Hydra's own files in a run dir, written only once the run dir is the run's.

Hydra 1.3 saves `.hydra/` and opens the job log (`train.log`) before any
callback or the task function runs, so a run refused because its run dir is
busy, or holds another config's run, would already have replaced that run's
files. So configs/hydra/default.yaml sets `output_subdir: null` (Hydra writes
no `.hydra/`) and configs/hydra/job_logging/lossbench.yaml gives the log file
to `HeldFileHandler`, which keeps the lines in memory; `write()` then puts down
the same three files Hydra would have and opens the log, after the checks.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from lossbench import files
from trainer.rundir import storage

DOT_HYDRA = ".hydra"  # Hydra's default output_subdir, which users and report.py expect
FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")  # Hydra's names, in its order


class HeldFileHandler(logging.FileHandler):
    """Hydra's job log file, opened (and its earlier lines written) only by `open()`."""

    LIMIT = 10_000  # lines held at most, should `open()` never come

    def __init__(self, filename: str, mode: str = "a", encoding: str | None = None) -> None:
        super().__init__(filename, mode=mode, encoding=encoding, delay=True)
        self.held: list[logging.LogRecord] | None = []

    def emit(self, record: logging.LogRecord) -> None:
        if self.held is None:
            super().emit(record)
        elif len(self.held) < self.LIMIT:
            self.held.append(record)

    def open(self) -> None:
        held, self.held = self.held or [], None
        for record in held:
            super().emit(record)


def write(run_dir: Path, cfg: DictConfig) -> None:
    """`.hydra/config.yaml`, `hydra.yaml` and `overrides.yaml` as Hydra writes them, and the
    job log opened; call once the run dir is locked and checked. Outside Hydra: nothing."""
    if not HydraConfig.initialized():
        return
    hydra_cfg = copy.deepcopy(HydraConfig.instance().cfg)  # {"hydra": ...}, as Hydra saves it
    with read_write(hydra_cfg.hydra), open_dict(hydra_cfg.hydra):
        hydra_cfg.hydra.output_subdir = DOT_HYDRA  # where the files are, as with Hydra's default
    out = run_dir / DOT_HYDRA
    with storage.writing(out):
        out.mkdir(parents=True, exist_ok=True)
        nodes = (cfg, hydra_cfg, hydra_cfg.hydra.overrides.task)
        for name, node in zip(FILES, nodes, strict=True):
            files.write_text(out / name, OmegaConf.to_yaml(node))
    for handler in logging.getLogger().handlers:
        if isinstance(handler, HeldFileHandler):
            handler.open()
