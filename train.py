"""Train one task × loss pair, or a sweep of them with -m.

    python train.py task=regression loss=smoothl1
    python train.py -m task=regression loss=l1,mse,smoothl1 seed=0,1,2
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from lossbench.errors import UserError
from trainer import custom_loss, plugins, schemas

# configs/hydra/launcher/submitit_*.yaml share the plugin's config names on purpose:
# users type hydra/launcher=submitit_slurm, and Hydra checks our keys against the
# plugin's schema. Hydra calls that matching deprecated; the check is what we want.
warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/\w+' is validated against "
                        "ConfigStore schema", category=UserWarning)

# The YAML files in configs/ name their schemas, and train.yaml's objective two resolvers:
# Hydra must know all of them before it composes.
schemas.register()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns `objective.metric` of the run, for sweepers that optimise (Optuna)."""
    from trainer import objective, summary
    from trainer.run import run

    schemas.register()  # again: a launcher's worker process may not run this module's top
    plugins.install()
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        schemas.check_overrides(cfg, hydra_cfg.overrides.task)
        objective.check(cfg)
        record = run(cfg, run_dir, multirun=multirun)
        if not multirun:  # a sweep closes with its own lines (trainer/rundir/sweep.py)
            for line in summary.closing(record, run_dir):
                logging.getLogger("lossbench").info(line)
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


def cli() -> None:
    """Hydra's main, with a config Hydra could not compose reported as one line and exit 2.

    Hydra prints such errors itself, over several lines, and exits 1, before
    `main` runs. HYDRA_FULL_ERROR=1 (Hydra's documented switch) lets them
    reach this function instead; anything that is not the user's mistake is
    re-raised with its full traceback.
    """
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:  # the installed plugins' options, before Hydra composes (trainer/plugins.py)
        plugins.install()
        custom_loss.install(sys.argv[1:])  # loss=custom loss.target=module:Class
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    if message := schemas.refuse_before_compose(sys.argv[1:]):
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    try:
        main()
    except Exception as err:
        message = schemas.translate(err, sys.argv[1:])
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    cli()
