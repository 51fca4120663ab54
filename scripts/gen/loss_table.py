"""Write the README's loss table from the loss classes and configs, so it cannot drift.

    python -m scripts.gen.loss_table           # rewrite the table in README.md
    python -m scripts.gen.loss_table --check   # exit 1 if README.md's table is stale

Formula and notes come from each loss class's docstring (first line, then the
paragraph after it), the kinds from its adapters, the defaults from
configs/loss/<name>.yaml, the task names from tasks/, the measured properties from
scripts/properties.py (so the table cannot disagree with the code either).
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

import tasks
from lossbench.contract import KINDS
from scripts import properties
from trainer import losses, schemas

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
START, END = "<!-- loss-table:start -->", "<!-- loss-table:end -->"


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def config_params(name: str) -> str:
    cfg = schemas.option_values("loss", name)
    return ", ".join(f"`{k}={v}`" for k, v in cfg.items() if k != "name") or "—"


def render() -> str:
    by_kind = {k: [t for t in tasks.names() if k == tasks.get(t).KIND] for k in KINDS}
    kinds = [f"{k} ({', '.join(f'`{t}`' for t in by_kind[k])})" for k in KINDS]
    rows = [f"| loss | formula | parameters | {' | '.join(kinds)} | strengths and weaknesses "
            "| measured (scripts/properties.py) |", "|---" * (5 + len(KINDS)) + "|"]
    for name, cls in losses.LOSSES.items():
        formula, _, notes = inspect.cleandoc(cls.__doc__ or "").partition("\n\n")
        adapted = [cell(cls.adapters[k].__doc__ or "") if k in cls.adapters else "—"
                   for k in KINDS]
        measured = "; ".join(f"{r.kind}: {r.short()}"
                             for r in properties.report(name, properties.defaults(name)))
        rows.append(f"| `{name}` | {cell(formula)} | {config_params(name)} | "
                    f"{' | '.join(adapted)} | {cell(notes)} | {cell(measured)} |")
    return "\n".join(rows)


def replace_table(readme: str, table: str) -> str:
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"README.md lacks the markers {START} and {END}")
    return f"{head}{START}\n{table}\n{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is stale")
    args = parser.parse_args()
    text = README.read_text()
    new = replace_table(text, render())
    if args.check:
        if new != text:
            sys.exit("README.md's loss table is stale: run python -m scripts.gen.loss_table")
        return
    README.write_text(new)


if __name__ == "__main__":
    main()
