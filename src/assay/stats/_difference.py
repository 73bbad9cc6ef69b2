"""Intervals for the difference of two independent estimates (a train score minus a test score)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import t as student_t

from assay.errors import MetricError
from assay.stats._estimate import Estimate
from assay.stats._wilson import check_level, wilson_bounds

__all__ = ["mean_difference", "proportion_difference"]


def proportion_difference(k1: int, n1: int, k2: int, n2: int, *, level: float = 0.95) -> Estimate:
    """``k1/n1 − k2/n2`` for two independent samples, with Newcombe's hybrid score interval.

    Newcombe (1998, method 10) combines the two Wilson intervals ``[l1, u1]``, ``[l2, u2]``:
    ``d − sqrt((p1−l1)² + (u2−p2)²)`` to ``d + sqrt((u1−p1)² + (p2−l2)²)``. It keeps its coverage
    near proportions of 0 or 1, where the Wald interval does not.

    Args:
        k1, n1: successes and trials of the first sample (e.g. correct answers on training rows).
        k2, n2: the same for the second sample.
        level: confidence level.

    Returns:
        An Estimate with method ``"newcombe"`` and ``n = n1 + n2``; NaN when a sample is empty.

    Raises:
        MetricError: counts out of range.

    Example:
        >>> e = proportion_difference(95, 100, 80, 100)
        >>> round(e.value, 2), round(e.lower, 3), round(e.upper, 3)
        (0.15, 0.059, 0.243)
    """
    level = check_level(level)
    for k, n, which in ((k1, n1, "first"), (k2, n2, "second")):
        if n < 0 or k < 0 or k > n:
            raise MetricError(f"{which} sample: need 0 <= k <= n; got k={k}, n={n}")
    if n1 == 0 or n2 == 0:
        return Estimate(math.nan, math.nan, math.nan, level, "newcombe", n1 + n2)
    p1, p2 = k1 / n1, k2 / n2
    lo, hi = wilson_bounds(np.array([k1, k2]), np.array([n1, n2]), level=level)
    l1, l2 = float(lo[0]), float(lo[1])
    u1, u2 = float(hi[0]), float(hi[1])
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Estimate(d, lower, upper, level, "newcombe", n1 + n2)


def mean_difference(a: ArrayLike, b: ArrayLike, *, level: float = 0.95) -> Estimate:
    """``mean(a) − mean(b)`` for two independent samples, with Welch's t interval.

    Used for per-example losses (absolute errors, log losses) on two different sets of rows.

    Returns:
        An Estimate with method ``"welch"``; the interval is NaN when a sample has fewer than two
        values or both have zero variance.

    Example:
        >>> e = mean_difference([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
        >>> e.value
        1.0
    """
    level = check_level(level)
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return Estimate(math.nan, math.nan, math.nan, level, "welch", n1 + n2)
    d = float(x.mean() - y.mean())
    if n1 < 2 or n2 < 2:
        return Estimate(d, math.nan, math.nan, level, "welch", n1 + n2)
    v1, v2 = float(x.var(ddof=1)) / n1, float(y.var(ddof=1)) / n2
    se2 = v1 + v2
    if se2 == 0:
        return Estimate(d, d, d, level, "welch", n1 + n2)
    df = se2**2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    half = float(student_t.ppf(0.5 + level / 2.0, df)) * math.sqrt(se2)
    return Estimate(d, d - half, d + half, level, "welch", n1 + n2)
