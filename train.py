"""Train one task × loss pair, or a sweep of them with -m.

    python train.py task=regression loss=smoothl1
    python train.py -m task=regression loss=l1,mse,smoothl1 seed=0,1,2
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from lossbench.metrics import direction

# configs/hydra/launcher/submitit_*.yaml share the plugin's config names on purpose:
# users type hydra/launcher=submitit_slurm, and Hydra checks our keys against the
# plugin's schema. Hydra calls that matching deprecated; the check is what we want.
warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/\w+' is validated against "
                        "ConfigStore schema", category=UserWarning)

# configs/train.yaml's objective.direction: the metric's own unless the user gives one.
OmegaConf.register_new_resolver("metric_direction", direction, replace=True)


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns `objective.metric` of the run, for sweepers that optimise (Optuna)."""
    from lossbench.errors import UserError
    from trainer import objective
    from trainer.run import run

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        objective.check(cfg)
        record = run(cfg, run_dir, multirun=hydra_cfg.mode == RunMode.MULTIRUN)
        return objective.value(cfg, record)
    except UserError as err:
        logging.getLogger("lossbench").debug("user error", exc_info=True)
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"interrupted: {run_dir}/metrics.json says how far it got; continue it with "
              f"trainer.resume=true hydra.run.dir={run_dir}", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
