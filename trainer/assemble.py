"""Everything a run needs, built from the config once every value has been checked.

With trainer/run.py, the only place that knows both tasks/ and trainer/.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

import tasks
from lossbench.contract import Task, TaskData
from lossbench.errors import Misfit, UserError, require
from trainer import losses, models, optimizers, rng, schemas
from trainer.rundir import results
from trainer.settings import DEVICES, Settings


@dataclass
class Checked:
    """What the checks found: nothing has been read or built yet."""
    task: Task
    device: torch.device
    record: dict[str, Any]  # metrics.json as it starts


@dataclass
class Parts:
    task: Task
    device: torch.device
    settings: Settings
    data: TaskData
    model: nn.Module
    loss_fn: nn.Module
    optimizer: optimizers.MemberOptimizer
    state: dict[str, Any] | None  # the checkpoint a resumed run continues from
    record: dict[str, Any]  # metrics.json as it starts


def check_all(cfg: DictConfig) -> Checked:
    """Every value, the pair and the device; UserError (Misfit for a pair that does not fit)."""
    schemas.check(cfg)  # every key and value, before even the record is made of them
    record = results.new_record(cfg)
    task = tasks.get(cfg.task.name, cfg.task)
    if reason := misfit(cfg, task):
        raise Misfit(reason)
    device = pick_device(cfg.trainer.device)
    if str(cfg.trainer.precision) == "16" and device.type != "cuda":
        raise UserError(f"trainer.precision=16 needs CUDA, but the run is on {device}; "
                        "use trainer.precision=bf16 or 32.")
    return Checked(task, device, record)


def assemble(cfg: DictConfig, checked: Checked, state: dict[str, Any] | None,
             built: dict[str, TaskData] | None = None) -> Parts:
    """Data, model, loss and optimizer on the device, for a config that passed `check_all`.
    `state` is the checkpoint to continue from (trainer/rundir/claim.py loaded and checked it).
    `built` keeps data across the runs of one process (population training): runs whose
    task config is the same get the same data, built once."""
    task, device = checked.task, checked.device
    seed_everything(cfg.seed)
    data = build_data(task, cfg, device, built)
    models.check_fits(cfg.model, data.input_shape, data.n_outputs, cfg.task.batch_size,
                      len(data.x_train), device)
    model = models.build(cfg.model, data.input_shape, data.n_outputs).to(device)
    models.check_batches(model, len(data.x_train), cfg.task.batch_size,
                         cfg.trainer.limit_train_batches)
    loss_fn = losses.build(dict(cfg.loss), data.kind)
    optimizer = optimizers.build(cfg.optim, model.parameters())
    return Parts(task, device, Settings.from_config(cfg), data, model, loss_fn, optimizer, state,
                 checked.record)


def build_data(task: Task, cfg: DictConfig, device: torch.device,
               built: dict[str, TaskData] | None) -> TaskData:
    if built is None:
        return task.build(cfg.task).to(device)
    key = json.dumps([OmegaConf.to_container(cfg.task, resolve=True), str(device)],
                     sort_keys=True, default=str)
    if key not in built:
        streams = rng.capture()
        built[key] = task.build(cfg.task).to(device)
        if not rng.same(rng.capture(), streams):  # kept only if building left them be
            return built.pop(key)
    return built[key]


def misfit(cfg: DictConfig, task: Task) -> str | None:
    """Why this task and loss do not go together, or None when they do."""
    if losses.accepts(cfg.loss.name, task.KIND):
        return None
    cls = losses.lookup(cfg.loss.name)
    return (f"task={cfg.task.name} ({task.KIND} targets) does not fit loss={cfg.loss.name} "
            f"(accepts {', '.join(cls.adapters)} targets); losses valid for "
            f"task={cfg.task.name}: {', '.join(losses.valid_for(task.KIND))}.")


def pick_device(name: str) -> torch.device:
    require(name in DEVICES or name.startswith("cuda:"), "trainer.device", name,
            f"one of {', '.join(DEVICES)} (or cuda:N)")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"trainer.device={name} but this machine has no CUDA device "
                        f"(torch {torch.__version__}); use trainer.device=cpu or auto.")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
