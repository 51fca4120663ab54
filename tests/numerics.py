"""How closely the tests that compare two computations of the same numbers may disagree,
and why. Every such test is marked `numerics`; .ci/run reruns them under other matrix
kernels (MKL_CBWR=SSE4_2, AVX512, COMPATIBLE), because the kernel MKL picks depends on
the CPU and a tolerance tuned to one machine's rounding fails on another's.

Exact equality, where both sides run the same code on the same machine and data:
- a resumed run against the uninterrupted one (test_resume, test_loop, test_schedulers,
  test_population_launcher's kill test when the groups are the same);
- the validation split, label noise and data builds against their own reruns or against
  scikit-learn's draw (integer indices: test_validation, test_label_noise, test_tasks).

A tolerance, where the two sides take different paths:
- FLOAT64: the same arithmetic in float64 on both sides (the stacked optimizer against
  torch.optim, fed from different matrix kernels; metrics against scikit-learn). Rounding
  is ~1e-16 per operation; a few thousand operations in a chain stay far below 1e-10,
  while a wrong term in an update or formula is off by 1e-6 or more.
- FORMULA: a float32 loss against a float64 reference on the same inputs: a handful of
  float32 operations, each within half an ulp (6e-8), so rel 1e-6 (pytest.approx's default).
- TRAINING: float32 training runs whose steps take different kernels (a population's
  batched products against each single run's, or recorded histories against a rerun on
  another CPU). Each step's rounding differs by an ulp or two and the steps compound it;
  over the tests' few epochs that stays near 2e-7 relative. Measured across kernels by
  `python -m scripts.kernel_spread` (MKL_CBWR=COMPATIBLE + ATEN_CPU_CAPABILITY=default
  against the defaults, AMD EPYC): worst |difference| / this tolerance 0.019 on its
  regression sweep, 0.021 on digits with the cnn and Adam, 0.023 on 5 epochs of an mlp
  with SGD; rel 1e-5 leaves a margin of about 40.
  r2 = 1 − SSE/SST subtracts two numbers of size 1, so its error is that of SSE/SST, which
  is relative to 1 − r2, not to r2: near r2 = 0 its relative error is unbounded.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

FLOAT64 = {"rtol": 1e-10, "atol": 1e-12}
FORMULA = {"rel": 1e-6}
TRAINING = {"rel": 1e-5, "abs": 1e-7}


def within(key: str, expected: float, tolerance: Mapping[str, float] = TRAINING) -> float:
    """The largest difference `key` may show from `expected` under `tolerance`."""
    scale = abs(1 - expected) if key.endswith("r2") else abs(expected)
    return max(tolerance["rel"] * scale, tolerance.get("abs", 0.0))


def assert_same_metrics(ours: Mapping[str, float], theirs: Mapping[str, float],
                        tolerance: Mapping[str, float] = TRAINING) -> None:
    """Two dicts of `<split>/<metric>` (and epoch) values, key for key, within `tolerance`."""
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=within(key, value, tolerance)), key
