"""Slurm: the job-array launcher (array.py) and what it asks the scheduler (scheduler.py)."""
