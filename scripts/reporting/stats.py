"""The statistics behind the report's intervals, paired tests and ranks (scipy.stats).

- mean_ci: a mean over seeds with its 95 % Student-t interval, mean ± t(n−1)·s/√n.
- paired: the mean of paired differences (runs matched by seed), its interval, the
  paired t-test's p-value and, from 6 pairs on, the Wilcoxon signed-rank test's (below
  6 pairs its smallest possible two-sided p is 1/16, so it could never reject at 0.05).
- holm: Holm's step-down adjustment of a family of p-values.
- average_ranks, friedman, nemenyi_cd: Demšar (2006), "Statistical comparisons of
  classifiers over multiple data sets", JMLR 7: rank the losses within each block
  (task × setting), average over blocks, test with Friedman's χ², and call two losses
  different when their average ranks differ by more than the critical difference.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
ALPHA = 0.05
MIN_WILCOXON = 6
NO_INTERVAL = "one seed: no interval (a spread needs at least two seeds)"


@dataclass
class Interval:
    mean: float
    low: float   # NaN with fewer than two values
    high: float
    n: int


def half_width(std: np.ndarray | float, n: np.ndarray | int, level: float = LEVEL
               ) -> np.ndarray | float:
    """t(n−1)·s/√n, elementwise; NaN where n < 2. `std` is the sample (ddof=1) deviation."""
    from scipy import stats

    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stats.t.ppf(0.5 + level / 2, np.where(n >= 2, n - 1, np.nan))
        return t * np.asarray(std, dtype=float) / np.sqrt(n)


def mean_ci(values: Sequence[float], level: float = LEVEL) -> Interval:
    """Mean of the finite values with its Student-t interval."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    half = float(half_width(x.std(ddof=1), n, level))
    return Interval(mean, mean - half, mean + half, n)


@dataclass
class Paired:
    n: int
    difference: Interval  # of a − b, pair by pair
    p_t: float            # paired t-test, two-sided; NaN below two pairs
    p_wilcoxon: float     # Wilcoxon signed-rank, two-sided; NaN below MIN_WILCOXON pairs


def paired(a: Sequence[float], b: Sequence[float]) -> Paired:
    """Compare a with b, where a[i] and b[i] share a seed (data, noise draw, initial weights)."""
    from scipy import stats

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    interval = mean_ci(d.tolist())
    if n < 2:
        return Paired(n, interval, math.nan, math.nan)
    if np.all(d == d[0]):
        # No spread: the t statistic is 0/0 (no difference) or ±inf (the same gain every time).
        p_t = 1.0 if d[0] == 0 else 0.0
    else:
        p_t = float(stats.ttest_1samp(d, 0.0).pvalue)
    p_w = math.nan
    if n >= MIN_WILCOXON:
        if np.all(d == 0):
            p_w = 1.0
        else:
            with warnings.catch_warnings():  # ties and zeros: scipy falls back to its approximation
                warnings.simplefilter("ignore")
                p_w = float(stats.wilcoxon(d).pvalue)
    return Paired(n, interval, p_t, p_w)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the given order; NaN stays NaN and is not counted."""
    p = np.asarray(pvalues, dtype=float)
    finite = np.flatnonzero(np.isfinite(p))
    adjusted = np.full(len(p), math.nan)
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    running = 0.0
    for i, index in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[index]))  # step-down, kept monotone
        adjusted[index] = running
    return adjusted.tolist()


def verdict(difference: float, p_adjusted: float, higher_is_better: bool, n: int,
            alpha: float = ALPHA) -> str:
    """better / worse / no detectable difference, read in the metric's direction."""
    if n < 2 or not math.isfinite(p_adjusted):
        return "no test (one seed)" if n == 1 else "no test (no pairs)"
    if p_adjusted >= alpha:
        return "no detectable difference"
    gain = difference if higher_is_better else -difference
    return "better" if gain > 0 else "worse"


def average_ranks(scores: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """scores: blocks × methods. Rank 1 is the best in its block; ties share the mean rank."""
    from scipy.stats import rankdata

    signed = -scores if higher_is_better else scores
    return rankdata(signed, axis=1).mean(axis=0)


def friedman(scores: np.ndarray) -> tuple[float, float]:
    """Friedman's χ² and p-value over blocks × methods (at least 3 methods, 2 blocks)."""
    from scipy.stats import friedmanchisquare

    result = friedmanchisquare(*scores.T)
    return float(result.statistic), float(result.pvalue)


def nemenyi_cd(k: int, n_blocks: int, alpha: float = ALPHA) -> float:
    """Critical difference of average ranks: q_α √(k(k+1) / 6N), with q_α the studentized
    range quantile for k groups and infinite degrees of freedom, divided by √2."""
    from scipy.stats import studentized_range

    q = studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n_blocks)))
