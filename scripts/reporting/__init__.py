"""Read a folder of lossbench runs and turn it into a table, a summary and plots.

cli.py      the command (scripts/report.py, python -m scripts.reporting)
runs.py     run dirs → one row per run (metrics.json, .hydra/overrides.yaml) and the
            per-epoch curves (TensorBoard event files, read by tbparse)
summary.py  rows grouped by task × loss × swept value → summary.md
plots.py    curves per task and final metric against each numeric swept value
"""
