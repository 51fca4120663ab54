"""The neutral core every room of lossbench shares, importing none of them.

errors.py    UserError, Misfit and the one-line value checks
contract.py  what a task declares (the Task protocol) and hands the trainer (TaskData)
metrics.py   test metrics and which way each is better
torch_metrics.py  the metrics computed in torch on the device (imported when a run evaluates)
status.py    RunStatus: how a run ended
files.py     the one atomic write: metrics.json, checkpoints, the dataset cache
registry.py  how every config group (task, loss, model, optim) finds its implementation
schema.py    how a config key declares its type and allowed values (beside the code using it)
checking.py  a composed config against those schemas; Hydra's refusals as the one line
memory.py    what a size may take: refused before allocation when no device could hold it
"""

from __future__ import annotations

import importlib
from typing import Any

# What a plugin needs (trainer/plugins.py, docs/extending.md), from one public place:
#   from lossbench import Loss, Task, TaskData, Kind, Number
# Each name is looked up on first use, so that importing lossbench.errors, say, stays free
# of torch; Loss and the adapters live with the built-in losses.
_ADAPTERS = ("logits_and_index", "log_softmax_and_index", "softmax_and_onehot",
             "sigmoid_and_float", "logit_and_float", "logit_and_sign", "two_class_logits",
             "value_and_float")
_PUBLIC = {"Kind": "lossbench.contract", "Task": "lossbench.contract",
           "TaskData": "lossbench.contract", "Number": "lossbench.schema",
           "OneOf": "lossbench.schema", "Loss": "trainer.losses.base",
           **{name: "trainer.losses.base" for name in _ADAPTERS}}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'lossbench' has no attribute {name!r}")
