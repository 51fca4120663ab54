"""The README's loss table is the one scripts/gen/loss_table.py writes from the code: no drift."""

from __future__ import annotations

from scripts.gen import loss_table as script
from trainer import losses


def table_rows() -> dict[str, list[str]]:
    block = script.README.read_text().partition(script.START)[2].partition(script.END)[0]
    rows = [line.split(" | ") for line in block.strip().splitlines()[2:]]
    return {row[0].strip("| `"): row for row in rows}


def test_readme_table_is_what_the_script_writes():
    readme = script.README.read_text()
    assert script.replace_table(readme, script.render()) == readme, (
        "README.md's loss table is stale: run python -m scripts.gen.loss_table")


def test_every_loss_has_one_row_with_its_kinds():
    rows = table_rows()
    assert list(rows) == list(losses.LOSSES)
    for name, cls in losses.LOSSES.items():
        kinds = rows[name][3:6]  # multiclass, binary, regression
        assert [cell != "—" for cell in kinds] == [
            k in cls.adapters for k in ("multiclass", "binary", "regression")], name
