"""Which jobs of a sweep can train together, and why the others cannot.

Jobs train together when everything but the per-member values below is the same: task
and its data arrays, model and its sizes, batch size, epochs, device, precision,
optimizer kind and its other settings. Anything the population engine does not
stack (a key it does not know, torch.compile's one model) sends a job through training
alone (a population of one) instead, with the reason.
"""

from __future__ import annotations

import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainer import optimizers

# Values members of one population may differ in, as dotted keys of the job's config.
PER_MEMBER = ("seed", "loss", "optim.lr", "optim.weight_decay", "optim.momentum",
              "task.label_noise", "task.noise_type", "task.outlier_fraction", "task.data_seed",
              "trainer.diagnostics", "trainer.progress_bar", "trainer.resume",
              "trainer.gradient_clip_val", "scheduler", "logger", "objective")
# Config keys the engine knows; a job with any other key set trains alone.
KNOWN = {"seed", "task", "loss", "model", "optim", "trainer", "logger", "objective",
         "scheduler"}
KNOWN_TRAINER = {"max_epochs", "device", "log_every_n_steps", "limit_train_batches",
                 "progress_bar", "resume", "precision", "compile", "diagnostics",
                 "gradient_clip_val", "deterministic"}


def _unset(value: Any) -> bool:
    if isinstance(value, dict):  # a config group left at its `none` option
        return value == {} or (value.get("name") in ("none", None) and len(value) == 1)
    return value in (None, False, 0, "none", "null") or value == []


def alone_reason(config: DictConfig) -> str | None:
    """Why this job (its full config, hydra node included) must train on its own, or None."""
    cfg = OmegaConf.to_container(config, resolve=False)
    hydra = cfg.pop("hydra", {})
    if hydra.get("job", {}).get("env_set"):
        return "hydra.job.env_set is set (population members share one environment)"
    for key, value in cfg.items():
        if key not in KNOWN and not _unset(value):
            return f"{key}={_short(value)} is not implemented by population training"
    trainer = cfg.get("trainer", {})
    for key, value in trainer.items():
        if key not in KNOWN_TRAINER and not _unset(value):
            return f"trainer.{key}={_short(value)} is not implemented by population training"
    if trainer.get("compile"):
        return "trainer.compile=true (torch.compile compiles one model)"
    name = cfg.get("optim", {}).get("name")
    if name not in optimizers.OPTIMIZERS:
        return f"optim={name} is not one of {', '.join(optimizers.OPTIMIZERS)}"
    return None


def group_key(task_cfg: DictConfig) -> str:
    """Equal for jobs that may share one population (their data arrays aside)."""
    cfg = OmegaConf.to_container(task_cfg, resolve=True)
    for dotted in PER_MEMBER:
        *path, last = dotted.split(".")
        node = cfg
        for part in path:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(last, None)
    return json.dumps(cfg, sort_keys=True, default=str)


def _short(value: Any) -> str:
    """A value for a one-line reason: a config group by the option chosen (`scheduler=cosine`,
    not its keys with their interpolations), anything else cut to 40 characters."""
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"]
    text = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
