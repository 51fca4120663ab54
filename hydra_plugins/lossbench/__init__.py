"""lossbench's Hydra plugins: the population launcher."""
