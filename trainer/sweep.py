"""A Hydra callback that closes a sweep with one line per status and a fitting exit code."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lossbench.status import FINISHED
from trainer import results
from trainer.results import METRICS_FILE

log = logging.getLogger("lossbench")


class SweepSummary(Callback):
    """Counts the statuses in the sweep dir; exits 1 when a job failed, so scripts notice."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        statuses = Counter()
        failed = []
        for path in sorted(sweep_dir.glob(f"*/{METRICS_FILE}")):
            status = results.read(path.parent).get("status", "unknown")
            statuses[status] += 1
            if status not in FINISHED:
                failed.append(path.parent.name)
        counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        log.info("sweep %s: %s", sweep_dir, counts or "no runs")
        if failed:
            print(f"error: {len(failed)} run(s) of the sweep did not finish: {', '.join(failed)}; "
                  f"see their metrics.json", file=sys.stderr)
            sys.exit(1)
