"""Intervals for paired proportions: the same examples scored twice (original and perturbed)."""

from __future__ import annotations

import math

import numpy as np

from assay.errors import MetricError
from assay.stats._estimate import Estimate
from assay.stats._wilson import check_level, wilson_bounds

__all__ = ["paired_proportion_difference"]


def paired_proportion_difference(
    both: int, only_first: int, only_second: int, neither: int, *, level: float = 0.95
) -> Estimate:
    """``p1 − p2`` for two proportions measured on the same ``n`` examples, with Newcombe's
    hybrid score interval for paired data (Newcombe 1998, "Improved confidence intervals for the
    difference between binomial proportions based on paired data", method 10).

    With the 2×2 table ``a = both``, ``b = only_first``, ``c = only_second``, ``d = neither``,
    ``p1 = (a+b)/n``, ``p2 = (a+c)/n`` and Wilson intervals ``[l1, u1]``, ``[l2, u2]``, the
    correlation ``φ = (ad − bc) / sqrt((a+b)(c+d)(a+c)(b+d))`` (0 when a margin is empty) gives
    ``δ = sqrt((p1−l1)² − 2φ(p1−l1)(u2−p2) + (u2−p2)²)``,
    ``ε = sqrt((u1−p1)² − 2φ(u1−p1)(p2−l2) + (p2−l2)²)`` and the interval
    ``[p1 − p2 − δ, p1 − p2 + ε]``.

    Args:
        both: examples where both events happen (correct before and after a perturbation).
        only_first: the first only (correct before, wrong after).
        only_second: the second only.
        neither: neither.
        level: confidence level.

    Returns:
        An Estimate with method ``"newcombe-paired"``; NaN when ``n == 0``.

    Raises:
        MetricError: a negative count.

    Example:
        >>> e = paired_proportion_difference(80, 5, 15, 0)
        >>> round(e.value, 2)
        -0.1
    """
    level = check_level(level)
    a, b, c, d = both, only_first, only_second, neither
    if min(a, b, c, d) < 0:
        raise MetricError(f"paired counts must be >= 0; got {a}, {b}, {c}, {d}")
    n = a + b + c + d
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, level, "newcombe-paired", 0)
    p1, p2 = (a + b) / n, (a + c) / n
    lo, hi = wilson_bounds(np.array([a + b, a + c]), np.array([n, n]), level=level)
    l1, l2, u1, u2 = float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])
    denom = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denom) if denom > 0 else 0.0
    delta = math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    eps = math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    diff = p1 - p2
    return Estimate(
        diff, max(-1.0, diff - delta), min(1.0, diff + eps), level, "newcombe-paired", n
    )
