"""lossbench's Hydra plugins: the population and Slurm launchers, and the search path that
adds plugins' config folders (config_dirs.py)."""
