"""Read a folder of lossbench runs and turn it into a table, a summary and plots.

cli.py      the command (scripts/report.py, python -m scripts.reporting)
runs.py     run dirs → one row per run (metrics.json, .hydra/overrides.yaml) and the
            per-epoch curves (TensorBoard event files, read by tbparse)
summary.py  rows grouped by task × loss × swept value → summary.md
plots.py    curves per task and final/selected/oracle metric against each numeric
            swept value, with 95 % confidence bands
stats.py    intervals, paired tests, Holm, ranks, Friedman, Nemenyi (scipy.stats)
comparisons.py  every loss against a reference loss, runs paired by seed
ranks.py    average ranks over task × setting, Friedman's test, ranks.png
"""
