"""Paired tests for two models scored on the same examples: McNemar, correlated DeLong, Holm, power.

The interval for a difference of paired proportions (Newcombe) lives in :mod:`assay.stats._paired`;
this module adds the tests and the sample-size arithmetic a comparison needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri
from scipy.stats import binom

from assay.errors import MetricError
from assay.stats._delong import logit_auc_bounds
from assay.stats._estimate import Estimate
from assay.stats._wilson import check_level, z_value

__all__ = [
    "PairedAUC",
    "TestResult",
    "holm",
    "mcnemar_test",
    "min_detectable_effect",
    "paired_delong",
    "required_sample_size",
]


@dataclass(frozen=True)
class TestResult:
    """A test's statistic and p-value, and how they were computed."""

    __test__ = False  # not a pytest test class

    statistic: float
    p_value: float
    method: str


def mcnemar_test(
    only_first: int,
    only_second: int,
    *,
    method: Literal["exact", "mid-p", "asymptotic"] = "mid-p",
) -> TestResult:
    """McNemar's test that two paired proportions are equal, from the discordant counts.

    With ``b = only_first`` (the first model right, the second wrong) and ``c = only_second``, under
    the null each of the ``b + c`` discordant examples goes either way with probability ½.

    - ``exact``: ``p = min(1, 2·P(X ≤ min(b, c)))`` with ``X ~ Binomial(b + c, ½)``.
    - ``mid-p``: the exact p-value minus ``P(X = min(b, c))`` (Fagerland, Lydersen and Laake 2013,
      "The McNemar test for binary matched-pairs data: mid-p and asymptotic are better than exact
      conditional"); less conservative, close to nominal size.
    - ``asymptotic``: ``χ² = (b − c)² / (b + c)`` on one degree of freedom, no continuity correction.

    Args:
        only_first: examples the first model gets right and the second wrong.
        only_second: the reverse.
        method: see above.

    Returns:
        The statistic (``min(b, c)`` for the exact forms, χ² otherwise) and the two-sided p-value;
        ``p = 1`` when there is no discordant example.

    Raises:
        MetricError: negative counts or an unknown method.

    Example:
        >>> round(mcnemar_test(5, 15, method="exact").p_value, 4)
        0.0414
    """
    b, c = int(only_first), int(only_second)
    if b < 0 or c < 0:
        raise MetricError(f"McNemar counts must be >= 0; got {b} and {c}")
    n = b + c
    if method == "asymptotic":
        if n == 0:
            return TestResult(0.0, 1.0, "mcnemar-asymptotic")
        chi2 = (b - c) ** 2 / n
        return TestResult(chi2, float(min(1.0, 2.0 * ndtr(-math.sqrt(chi2)))), "mcnemar-asymptotic")
    if method not in ("exact", "mid-p"):
        raise MetricError(f"method must be 'exact', 'mid-p' or 'asymptotic'; got {method!r}")
    k = min(b, c)
    if n == 0:
        return TestResult(0.0, 1.0, f"mcnemar-{method}")
    p = min(1.0, 2.0 * float(binom.cdf(k, n, 0.5)))
    if method == "mid-p":
        p = min(1.0, p - float(binom.pmf(k, n, 0.5)))
    return TestResult(float(k), p, f"mcnemar-{method}")


@dataclass(frozen=True)
class PairedAUC:
    """Two correlated ROC AUCs on the same examples and their difference (DeLong).

    Attributes:
        first: the first model's AUC with its DeLong interval.
        second: the second model's AUC.
        difference: ``first − second`` with a normal interval from the paired DeLong variance.
        test: the z-test of no difference.
    """

    first: Estimate
    second: Estimate
    difference: Estimate
    test: TestResult


def _components(pos: NDArray[np.float64], neg: NDArray[np.float64]):
    # Per-example structural components in the caller's order (ties count one half).
    neg_sorted, pos_sorted = np.sort(neg), np.sort(pos)
    m, n = len(pos), len(neg)
    v10 = (np.searchsorted(neg_sorted, pos, "left") + np.searchsorted(neg_sorted, pos, "right")) / (
        2.0 * n
    )
    v01 = 1.0 - (
        np.searchsorted(pos_sorted, neg, "left") + np.searchsorted(pos_sorted, neg, "right")
    ) / (2.0 * m)
    return v10, v01


def paired_delong(
    y_true: ArrayLike, score_first: ArrayLike, score_second: ArrayLike, *, level: float = 0.95
) -> PairedAUC:
    """DeLong's test for two correlated ROC AUCs (DeLong, DeLong and Clarke-Pearson 1988).

    Each model's structural components ``V10`` (per positive) and ``V01`` (per negative) are computed
    on the same examples; with ``S10``, ``S01`` the 2×2 sample covariances of the components,
    ``Var(A1 − A2) = (S10₁₁ + S10₂₂ − 2·S10₁₂)/m + (S01₁₁ + S01₂₂ − 2·S01₁₂)/n``.

    Args:
        y_true: binary truth (1 / ``True`` positive).
        score_first: the first model's scores, higher meaning more likely positive.
        score_second: the second model's scores on the same examples.
        level: confidence level of the intervals.

    Returns:
        A :class:`PairedAUC`; everything NaN when a class is missing.

    Raises:
        MetricError: arrays of different lengths, or non-finite scores.

    Example:
        >>> r = paired_delong([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], [0.1, 0.2, 0.3, 0.4])
        >>> r.first.value, r.second.value
        (0.75, 1.0)
    """
    level = check_level(level)
    y = np.asarray(y_true).astype(bool).ravel()
    a = np.asarray(score_first, dtype=np.float64).ravel()
    b = np.asarray(score_second, dtype=np.float64).ravel()
    if not (len(y) == len(a) == len(b)):
        raise MetricError(
            f"y_true, score_first and score_second differ in length: {len(y)}, {len(a)}, {len(b)}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise MetricError("scores must be finite; found NaN or infinity")
    m, n = int(y.sum()), int((~y).sum())
    if m == 0 or n == 0:
        nan = Estimate(math.nan, math.nan, math.nan, level, "delong", len(y))
        return PairedAUC(nan, nan, nan, TestResult(math.nan, math.nan, "delong-paired"))
    v10a, v01a = _components(a[y], a[~y])
    v10b, v01b = _components(b[y], b[~y])
    auc_a, auc_b = float(v10a.mean()), float(v10b.mean())
    s10 = np.cov(np.vstack([v10a, v10b]), ddof=1) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack([v01a, v01b]), ddof=1) if n > 1 else np.zeros((2, 2))
    var_a = s10[0, 0] / m + s01[0, 0] / n
    var_b = s10[1, 1] / m + s01[1, 1] / n
    var_d = max(
        (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n,
        0.0,
    )
    first = Estimate(auc_a, *logit_auc_bounds(auc_a, var_a, level), level, "delong", len(y))
    second = Estimate(auc_b, *logit_auc_bounds(auc_b, var_b, level), level, "delong", len(y))
    d = auc_a - auc_b
    se = math.sqrt(var_d)
    half = z_value(level) * se
    diff = Estimate(d, max(-1.0, d - half), min(1.0, d + half), level, "delong-paired", len(y))
    if se == 0.0:
        test = TestResult(
            0.0 if d == 0 else math.copysign(math.inf, d), 1.0 if d == 0 else 0.0, "delong-paired"
        )
    else:
        z = d / se
        test = TestResult(z, float(min(1.0, 2.0 * ndtr(-abs(z)))), "delong-paired")
    return PairedAUC(first, second, diff, test)


def holm(pvalues: ArrayLike) -> NDArray[np.float64]:
    """Holm's step-down adjustment of p-values for the family-wise error rate.

    Sorted ascending, the ``i``-th of ``m`` p-values (from 0) becomes
    ``max_{j ≤ i} min(1, (m − j)·p_(j))``; reject where the adjusted value is ``≤ α``. NaN
    p-values (a test that could not be run) stay NaN and do not count in ``m``.

    Example:
        >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise MetricError("p-values must lie in [0, 1]")
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def _z(q: float) -> float:
    return float(ndtri(q))


def min_detectable_effect(
    se: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Literal["two-sided", "one-sided"] = "two-sided",
) -> float:
    """The smallest true difference a test at ``alpha`` detects with probability ``power``.

    Normal approximation: ``MDE = (z_{1−α/2} + z_{power})·se`` (``z_{1−α}`` one-sided), where
    ``se`` is the standard error of the estimated difference at the current sample size.

    Example:
        >>> round(min_detectable_effect(0.01), 4)
        0.028
    """
    if not (0 < alpha < 1 and 0 < power < 1):
        raise MetricError(f"alpha and power must lie in (0, 1); got {alpha}, {power}")
    za = _z(1 - alpha / 2) if alternative == "two-sided" else _z(1 - alpha)
    return (za + _z(power)) * float(se)


def required_sample_size(
    se: float,
    n: int,
    margin: float,
    *,
    expected: float = 0.0,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Examples needed for a one-sided non-inferiority test to succeed with probability ``power``.

    The standard error scales as ``1/√n``, so from ``se`` at ``n`` examples the test of
    ``H0: Δ ≤ −margin`` at level ``alpha``, when the true difference is ``expected``, needs
    ``n' = n·((z_{1−α} + z_{power})·se / (margin + expected))²``. Returns ``inf`` when
    ``margin + expected ≤ 0`` (no sample size can show it).

    Example:
        >>> round(required_sample_size(0.02, 400, 0.02))
        2473
    """
    if n <= 0 or not math.isfinite(se):
        return math.nan
    gap = margin + expected
    if gap <= 0:
        return math.inf
    k = (_z(1 - alpha) + _z(power)) * float(se) / gap
    return float(n * k * k)
