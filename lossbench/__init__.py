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
