"""Refresh tests/durations.json, which sorts the tests into the fast tier and `slow`.

    .venv/bin/python -m pytest -q --durations=0 | tee /tmp/suite.log
    python -m scripts.gen.durations /tmp/suite.log

Each test's setup, call and teardown seconds from a full run on the 2-core machine, summed.
tests/conftest.py marks every test listed at SLOW_S seconds or more as `slow`, so that
`pytest -m "not slow"` stays a quick tier however the suite grows; a test not listed yet
counts as fast until the next refresh (or carries @pytest.mark.slow itself). A test the
log does not time (skipped there: no Slurm cluster, no GPU) keeps its earlier figure.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "tests" / "durations.json"
LINE = re.compile(r"^\s*([\d.]+)s (?:call|setup|teardown)\s+(\S.*?)\s*$")


def parse(text: str) -> dict[str, float]:
    seconds: dict[str, float] = defaultdict(float)
    for line in text.splitlines():
        if match := LINE.match(line):
            seconds[match.group(2)] += float(match.group(1))
    return {k: round(v, 2) for k, v in sorted(seconds.items())}


def merged(timed: dict[str, float], earlier: dict[str, float]) -> dict[str, float]:
    """The tests that took half a second or more, and the earlier figures of those not timed."""
    kept = {k: v for k, v in earlier.items() if k not in timed}
    return dict(sorted({**kept, **{k: v for k, v in timed.items() if v >= 0.5}}.items()))


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m scripts.gen.durations <pytest --durations=0 output>")
    found = parse(Path(sys.argv[1]).read_text())
    if not found:
        sys.exit(f"error: no durations in {sys.argv[1]}; run pytest with --durations=0.")
    earlier = json.loads(OUT.read_text()) if OUT.exists() else {}
    durations = merged(found, earlier)
    OUT.write_text(json.dumps(durations, indent=1) + "\n")
    kept = len(durations) - sum(v >= 0.5 for v in found.values())
    print(f"wrote {len(durations)} tests' durations to {OUT} ({kept} not timed in this log, "
          "kept from before)")


if __name__ == "__main__":
    main()
