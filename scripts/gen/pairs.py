"""Write configs/pair/: one option per task × loss pair that fits, for experiment=all.

    python -m scripts.gen.pairs           # rewrite the folder from the task and loss registries
    python -m scripts.gen.pairs --check   # exit 1 when it is out of date (tests run this)

Hydra's basic sweeper cannot drop misfit pairs from a cartesian product, so the valid
pairs are an option group of their own; this keeps it in step with what losses accept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tasks
from trainer import losses

ROOT = Path(__file__).resolve().parents[2]

FOLDER = ROOT / "configs" / "pair"
TEMPLATE = """# @package _global_
defaults:
  - override /task: {task}
  - override /loss: {loss}
"""


def wanted() -> dict[str, str]:
    return {f"{t}-{loss}.yaml": TEMPLATE.format(task=t, loss=loss)
            for t in tasks.names() if t not in tasks.USER_DATA
            for loss in losses.valid_for(tasks.get(t).KIND)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether it is stale")
    args = parser.parse_args()
    files = wanted()
    present = {p.name: p.read_text() for p in FOLDER.glob("*.yaml")}
    if args.check:
        stale = sorted(set(files) ^ set(present)) + sorted(
            name for name in files if name in present and present[name] != files[name])
        if stale:
            print(f"configs/pair is stale ({', '.join(stale)}): run python -m scripts.gen.pairs",
                  file=sys.stderr)
            return 1
        return 0
    FOLDER.mkdir(exist_ok=True)
    for name in set(present) - set(files):
        (FOLDER / name).unlink()
    for name, text in files.items():
        (FOLDER / name).write_text(text)
    print(f"wrote {len(files)} pairs to {FOLDER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
