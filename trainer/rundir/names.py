"""A sweep job's folder name: `<job number>_<its overrides>`, as configs/hydra/default.yaml's
`hydra.sweep.subdir` asks for through the `job_subdir` resolver.

Two things Hydra's plain `${hydra.job.num}_${hydra.job.override_dirname}` gets wrong:

- A name longer than the file system allows (255 bytes on most) ends the sweep with
  ENAMETOOLONG; such a name keeps its start and ends in a hash of the whole, so it stays
  readable in TensorBoard's run list and is the same in every launch.
- `trainer.max_epochs` is how long a run goes, not what it computes, so it is left out
  of the name (hydra.job.config.override_dirname.exclude_keys): a resume that raises it
  must find the same run dir. Sweeps started before that have it in their folders'
  names; a resume (`trainer.resume=true`) finds such a folder when the new name is not
  there yet.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

LONGEST = 200  # bytes: under the usual 255, with room for the atomic writers' `.<name>.<random>`
# Keys once part of the names, left out now; resumes look for folders that still have them.
DROPPED = ("trainer.max_epochs",)


def fitted(name: str) -> str:
    """`name`, or its start and a hash of it when it is too long to be a folder name."""
    if len(name.encode()) <= LONGEST:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:12]
    start = name.encode()[:LONGEST - len(digest) - 1].decode(errors="ignore")
    return f"{start}~{digest}"


def _without_dropped(overrides: str) -> str:
    items = [item for item in overrides.split(",") if item]
    return ",".join(i for i in items if not i.startswith(tuple(f"{k}=" for k in DROPPED)))


def older_name(sweep_dir: Path, num: Any, name: str) -> str | None:
    """A folder of `sweep_dir` for job `num` named before DROPPED keys left the names:
    the same overrides, and one of those keys besides. None when there is none."""
    if not sweep_dir.is_dir():
        return None
    prefix = f"{num}_"
    dropped = re.compile(r"(^|,)(" + "|".join(map(re.escape, DROPPED)) + ")=")
    for folder in sorted(sweep_dir.iterdir()):
        old, rest = folder.name, folder.name[len(prefix):]
        if (folder.is_dir() and old.startswith(prefix) and old != name
                and dropped.search(rest) and fitted(prefix + _without_dropped(rest)) == name):
            return old
    return None


def job_subdir(num: Any, overrides: str, *, _root_: DictConfig) -> str:
    """The resolver behind `hydra.sweep.subdir`: the job's folder name in the sweep dir."""
    name = fitted(f"{num}_{overrides}")
    resume = OmegaConf.select(_root_, "trainer.resume", default=False)
    sweep_dir = OmegaConf.select(_root_, "hydra.sweep.dir", default=None)
    if resume is True and sweep_dir is not None:
        sweep = Path(str(sweep_dir))
        if not (sweep / name).exists():
            return older_name(sweep, num, name) or name
    return name


def register() -> None:
    OmegaConf.register_new_resolver("job_subdir", job_subdir, replace=True)
