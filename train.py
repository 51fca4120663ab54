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



def main_metric(task_name: str, val_fraction: object) -> str:
    """configs/train.yaml's objective.metric: the task's main metric, on validation if any."""
    from trainer.objective import default_metric  # imports torch: only when it is read

    return default_metric(task_name, val_fraction)


def register_resolvers() -> None:
    """configs/train.yaml's objective: the metric and its own direction unless the user gives
    them. Again inside main(): a launcher's worker process may not run this module's top."""
    OmegaConf.register_new_resolver("metric_direction", direction, replace=True)
    OmegaConf.register_new_resolver("main_metric", main_metric, replace=True)


register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns `objective.metric` of the run, for sweepers that optimise (Optuna)."""
    from lossbench.errors import UserError
    from trainer import objective
    from trainer.run import run

    register_resolvers()
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
    except KeyboardInterrupt as err:
        if getattr(err, "recorded", False):
            print(f"interrupted: {run_dir}/metrics.json says how far it got; continue it with "
                  f"trainer.resume=true hydra.run.dir={run_dir}", file=sys.stderr)
        else:
            print(f"interrupted before training started; nothing recorded in {run_dir}",
                  file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
