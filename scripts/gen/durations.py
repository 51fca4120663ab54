"""Refresh tests/durations.json, which sorts the tests into the fast tier and `slow`.

    .venv/bin/python -m pytest -q --durations=0 | tee /tmp/suite.log
    .venv/bin/python -m pytest -q -m "not slow" --durations=0 | tee /tmp/fast.log
    python -m scripts.gen.durations /tmp/suite.log /tmp/fast.log

Each test's setup, call and teardown seconds on the 2-core machine, summed; with several
logs, the largest: a test can take longer in the fast tier alone than in the full run (a
shared fixture's set-up lands on it when the test that paid for it is left out).
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
    """The tests that took a quarter second or more (tests/conftest.py's SLOW_S is above
    that), and the earlier figures of those not timed."""
    kept = {k: v for k, v in earlier.items() if k not in timed}
    return dict(sorted({**kept, **{k: v for k, v in timed.items() if v >= 0.25}}.items()))


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m scripts.gen.durations <pytest --durations=0 output>...")
    found: dict[str, float] = {}
    for log in sys.argv[1:]:
        timed = parse(Path(log).read_text())
        if not timed:
            sys.exit(f"error: no durations in {log}; run pytest with --durations=0.")
        found = {k: max(found.get(k, 0.0), timed.get(k, 0.0)) for k in found.keys() | timed}
    earlier = json.loads(OUT.read_text()) if OUT.exists() else {}
    durations = merged(found, earlier)
    OUT.write_text(json.dumps(durations, indent=1) + "\n")
    kept = sum(k not in found for k in earlier)
    print(f"wrote {len(durations)} tests' durations to {OUT} ({kept} not timed in this log, "
          "kept from before)")


if __name__ == "__main__":
    main()
