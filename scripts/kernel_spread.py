"""How far two matrix-kernel choices move a sweep's numbers: the evidence behind the
float32 tolerances of the tests that compare two computation paths (tests/numerics.py).

The same sweep runs twice, each in its own process: once under the basic launcher with
one set of environment variables (by default MKL_CBWR=COMPATIBLE and
ATEN_CPU_CAPABILITY=default, which change the matrix and vector kernels on any x86-64),
once under the population launcher with the machine's defaults. Each metric of each
epoch is then compared as the tests compare it, and the worst ratio of difference to
tolerance is printed: below 1 the tests' tolerance holds across these kernels.

    python -m scripts.kernel_spread                    # the population-vs-basic sweep
    python -m scripts.kernel_spread task=digits model=cnn model.channels=[4,8] ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from numerics import TRAINING, within  # noqa: E402

SWEEP = ["task=regression", "loss=l1,mse,smoothl1", "seed=0,1", "task.outlier_fraction=0,0.2",
         "task.n_train=256", "task.n_test=128", "trainer.max_epochs=3", "trainer.device=cpu"]
OTHER_KERNELS = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default"}


def sweep(overrides: list[str], out: Path, env: dict[str, str], population: bool) -> None:
    launcher = ["hydra/launcher=population"] if population else []
    done = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", *overrides, *launcher,
                           f"hydra.sweep.dir={out}"], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"the sweep in {out} failed:\n{done.stderr}")


def worst(a: Path, b: Path) -> tuple[float, str]:
    """The largest |difference| / tolerance over every metric of every epoch, and where."""
    ratio, where = 0.0, ""
    for record in sorted(a.glob("*/metrics.json")):
        ours = json.loads(record.read_text())["history"]
        theirs = json.loads((b / record.parent.name / "metrics.json").read_text())["history"]
        for h, g in zip(ours, theirs, strict=True):
            for key, value in h.items():
                if "/" not in key or not isinstance(value, float):
                    continue
                tolerance = within(key, g[key], TRAINING)
                if abs(value - g[key]) / tolerance > ratio:
                    ratio = abs(value - g[key]) / tolerance
                    where = (f"{record.parent.name} epoch {h['epoch']} {key}: "
                             f"{value!r} vs {g[key]!r}")
    return ratio, where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="the sweep (default: a regression sweep)")
    args = parser.parse_args()
    overrides = args.overrides or SWEEP
    with tempfile.TemporaryDirectory() as tmp:
        sweep(overrides, Path(tmp) / "basic", OTHER_KERNELS, population=False)
        sweep(overrides, Path(tmp) / "population", {}, population=True)
        ratio, where = worst(Path(tmp) / "basic", Path(tmp) / "population")
    print(f"basic launcher under {OTHER_KERNELS} vs population launcher under the defaults:")
    print(f"worst |difference| / tolerance = {ratio:.3g} (at {where or 'no difference'})")
    sys.exit(0 if ratio <= 1 else 1)


if __name__ == "__main__":
    main()
