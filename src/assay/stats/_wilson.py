"""Wilson score interval for a binomial proportion."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri

from assay.errors import MetricError
from assay.stats._estimate import Estimate

__all__ = ["check_level", "wilson_bounds", "wilson_interval", "z_value"]


def check_level(level: float) -> float:
    """Validate a confidence level and return it as a float."""
    if not (isinstance(level, (int, float)) and 0.0 < float(level) < 1.0):
        raise MetricError(f"level must be a number strictly between 0 and 1; got {level!r}")
    return float(level)


def z_value(level: float) -> float:
    """Two-sided standard normal quantile for ``level`` (1.959964 for 0.95)."""
    return float(ndtri(0.5 + check_level(level) / 2.0))


def wilson_bounds(
    successes: ArrayLike, n: ArrayLike, *, level: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Vectorised Wilson bounds; NaN where ``n == 0``.

    With ``p = k / n`` and ``z`` the two-sided normal quantile the interval is
    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``.
    """
    k = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    z = z_value(level)
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        denom = 1.0 + z2 / m
        centre = (p + z2 / (2.0 * m)) / denom
        half = z * np.sqrt(np.maximum(p * (1.0 - p) / m + z2 / (4.0 * m * m), 0.0)) / denom
        lower = np.clip(centre - half, 0.0, 1.0)
        upper = np.clip(centre + half, 0.0, 1.0)
    # Exact endpoints when all or nothing succeeded (the formula is off by rounding there).
    lower = np.where(k == 0, 0.0, lower)
    upper = np.where(k == m, 1.0, upper)
    bad = m <= 0
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def wilson_interval(successes: int, n: int, *, level: float = 0.95) -> Estimate:
    """Wilson score interval for a proportion ``successes / n``.

    Args:
        successes: number of successes, ``0 <= successes <= n``.
        n: number of trials. ``n == 0`` gives an undefined (NaN) estimate.
        level: confidence level.

    Returns:
        ``Estimate(value=successes/n, lower, upper, level, "wilson", n)``.

    Raises:
        MetricError: on negative counts or ``successes > n``.

    Example:
        >>> e = wilson_interval(80, 100)
        >>> round(e.lower, 4), round(e.upper, 4)
        (0.7112, 0.8666)
    """
    check_level(level)
    if n < 0 or successes < 0 or successes > n:
        raise MetricError(
            f"wilson_interval needs 0 <= successes <= n; got successes={successes}, n={n}"
        )
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, level, "wilson", 0)
    lo, hi = wilson_bounds(successes, n, level=level)
    return Estimate(successes / n, float(lo), float(hi), level, "wilson", int(n))
