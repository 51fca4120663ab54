"""tests/durations.json, which decides the fast tier, refreshed from a pytest log."""

from __future__ import annotations

from scripts.gen import durations

LOG = """\
============================= slowest durations ==============================
12.50s call     tests/test_a.py::test_trains
0.40s setup    tests/test_a.py::test_trains
0.30s call     tests/test_a.py::test_quick[x-1]
0.25s setup    tests/test_a.py::test_quick[x-1]
0.02s call     tests/test_b.py::test_tiny
"""


def test_phases_are_summed_per_test():
    assert durations.parse(LOG) == {"tests/test_a.py::test_quick[x-1]": 0.55,
                                    "tests/test_a.py::test_trains": 12.9,
                                    "tests/test_b.py::test_tiny": 0.02}


def test_untimed_tests_keep_their_figure_and_quick_ones_are_dropped():
    earlier = {"tests/test_slurm.py::test_requeue": 130.4,  # skipped in this log
               "tests/test_a.py::test_trains": 3.0,
               "tests/test_b.py::test_tiny": 0.9}         # now quick: leaves the list
    assert durations.merged(durations.parse(LOG), earlier) == {
        "tests/test_a.py::test_quick[x-1]": 0.55,
        "tests/test_a.py::test_trains": 12.9,
        "tests/test_slurm.py::test_requeue": 130.4}
