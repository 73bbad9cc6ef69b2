"""Hypothesis tests and multiple-testing corrections."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from assay.errors import MetricError

__all__ = ["benjamini_hochberg", "two_proportion_test"]


def two_proportion_test(
    k1: int,
    n1: int,
    k2: int,
    n2: int,
    *,
    alternative: Literal["two-sided", "less", "greater"] = "two-sided",
) -> float:
    """Pooled two-proportion z-test of ``p1 = k1/n1`` against ``p2 = k2/n2``.

    Statistic: ``z = (p1 - p2) / sqrt(p(1-p)(1/n1 + 1/n2))`` with the pooled
    ``p = (k1 + k2) / (n1 + n2)``. ``alternative="less"`` tests ``p1 < p2`` (small p-value when the
    first group is worse), ``"greater"`` tests ``p1 > p2``.

    Args:
        k1: successes in group 1.
        n1: trials in group 1 (> 0).
        k2: successes in group 2.
        n2: trials in group 2 (> 0).
        alternative: the alternative hypothesis.

    Returns:
        The p-value. ``1.0`` when the pooled proportion is 0 or 1 (no evidence of a difference).

    Raises:
        MetricError: on invalid counts or an unknown ``alternative``.

    Example:
        >>> round(two_proportion_test(40, 100, 60, 100, alternative="less"), 4)
        0.0023
    """
    for name, k, n in (("1", k1, n1), ("2", k2, n2)):
        if n <= 0 or k < 0 or k > n:
            raise MetricError(f"group {name}: need 0 <= k <= n and n > 0; got k={k}, n={n}")
    if alternative not in ("two-sided", "less", "greater"):
        raise MetricError(
            f"alternative must be 'two-sided', 'less' or 'greater'; got {alternative!r}"
        )
    pooled = (k1 + k2) / (n1 + n2)
    var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if var <= 0.0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / math.sqrt(var)
    if alternative == "less":
        return float(ndtr(z))
    if alternative == "greater":
        return float(ndtr(-z))
    return float(min(1.0, 2.0 * ndtr(-abs(z))))


def benjamini_hochberg(
    pvalues: ArrayLike, *, alpha: float = 0.05
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Benjamini–Hochberg false-discovery-rate adjustment.

    The adjusted p-value of the i-th smallest of ``m`` p-values is
    ``min_{j >= i} min(1, m·p_(j)/j)``; a hypothesis is rejected when its adjusted p-value is
    ``<= alpha``. NaN p-values are kept as NaN, never rejected, and do not count in ``m``.

    Args:
        pvalues: p-values in ``[0, 1]``.
        alpha: the false discovery rate to control.

    Returns:
        ``(adjusted, rejected)`` arrays in the input order.

    Raises:
        MetricError: on p-values outside ``[0, 1]`` or ``alpha`` outside ``(0, 1)``.

    Example:
        >>> adj, rej = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
        >>> [round(float(a), 3) for a in adj], rej.tolist()
        ([0.04, 0.053, 0.053, 0.5], [True, False, False, False])
    """
    if not 0.0 < alpha < 1.0:
        raise MetricError(f"alpha must be strictly between 0 and 1; got {alpha!r}")
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    valid = ~np.isnan(p)
    if np.any((p[valid] < 0) | (p[valid] > 1)):
        i = int(np.flatnonzero(valid & ((p < 0) | (p > 1)))[0])
        raise MetricError(f"p-values must lie in [0, 1]; found {p[i]!r} at position {i}")
    adjusted = np.full_like(p, np.nan)
    pv = p[valid]
    m = len(pv)
    if m:
        order = np.argsort(pv)
        scaled = pv[order] * m / np.arange(1, m + 1)
        adj_sorted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
        out = np.empty(m)
        out[order] = adj_sorted
        adjusted[valid] = out
    rejected = np.zeros(len(p), dtype=bool)
    rejected[valid] = adjusted[valid] <= alpha
    return adjusted, rejected
