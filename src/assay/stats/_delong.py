"""ROC-AUC with DeLong's variance (fast midrank form) and a logit-scale interval.

With ``m`` positives ``X_i`` and ``n`` negatives ``Y_j``, ``ψ(x, y) = 1[x > y] + ½·1[x = y]``,
the AUC is ``A = (1/mn) Σ_i Σ_j ψ(X_i, Y_j)``. DeLong's structural components are
``V10_i = (1/n) Σ_j ψ(X_i, Y_j)`` (one per positive) and ``V01_j = (1/m) Σ_i ψ(X_i, Y_j)`` (one per
negative); ``Var(A) = S10/m + S01/n`` with ``S10``, ``S01`` their sample variances (``ddof=1``).
The components are counts of the other class below / above a score, obtained from sorted scores in
``O(n log n)``; ties count one half, exactly as in the definition.

The interval is built on the logit scale, ``logit(A) ± z·se/(A(1-A))``, and mapped back, so it
always lies in ``[0, 1]`` and is asymmetric near the ends. When ``A`` is 0 or 1 (or the variance is
0) the logit is infinite and the interval falls back to ``A ± z·se`` clipped to ``[0, 1]``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, logit

from assay.errors import MetricError
from assay.stats._estimate import Estimate
from assay.stats._policy import ZeroDivision, check_zero_division, report_undefined
from assay.stats._wilson import check_level, z_value

__all__ = ["binned_delong", "delong_auc", "delong_components", "logit_auc_bounds"]


def logit_auc_bounds(auc: float, variance: float, level: float) -> tuple[float, float]:
    """Interval for an AUC-like value in ``[0, 1]`` from its variance (see module docstring)."""
    if math.isnan(auc) or math.isnan(variance):
        return math.nan, math.nan
    z = z_value(level)
    se = math.sqrt(max(variance, 0.0))
    if 0.0 < auc < 1.0 and se > 0.0:
        half = z * se / (auc * (1.0 - auc))
        centre = float(logit(auc))
        return float(expit(centre - half)), float(expit(centre + half))
    return max(0.0, auc - z * se), min(1.0, auc + z * se)


def delong_components(
    pos_sorted: NDArray[np.float64], neg_sorted: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """AUC and DeLong components from the sorted positive and negative scores.

    Returns:
        ``(auc, v10, v01)``: ``v10`` aligned with ``pos_sorted``, ``v01`` with ``neg_sorted``.
    """
    m, n = len(pos_sorted), len(neg_sorted)
    # (#neg < x) + ½(#neg == x) = (left + right) / 2 in searchsorted terms.
    below = np.searchsorted(neg_sorted, pos_sorted, "left") + np.searchsorted(
        neg_sorted, pos_sorted, "right"
    )
    v10 = below / (2.0 * n)
    below_pos = np.searchsorted(pos_sorted, neg_sorted, "left") + np.searchsorted(
        pos_sorted, neg_sorted, "right"
    )
    v01 = 1.0 - below_pos / (2.0 * m)
    auc = float(v10.mean())
    return auc, v10, v01


def binned_delong(
    pos: NDArray[np.integer], neg: NDArray[np.integer]
) -> tuple[float, float, float]:
    """AUC, DeLong variance and worst-case binning error from per-bin class counts.

    ``pos[b]`` / ``neg[b]`` count the positives / negatives whose score falls in bin ``b`` (bins in
    increasing score order, a monotone binning). The AUC is the Mann–Whitney AUC of the binned
    scores (a positive and a negative in the same bin count one half) and the variance is
    DeLong's, from the binned placements ``V10 = (negatives below + ½ same bin) / N`` and ``V01 =
    (positives above + ½ same bin) / P``. The exact AUC of the unbinned scores differs from it
    by at most ``½ Σ_b pos_b·neg_b / (P·N)`` (only pairs inside one bin can be misordered, each by
    one half), the third value.

    Returns:
        ``(auc, variance, max_abs_error)``, all NaN when a class is absent.
    """
    p = np.asarray(pos, dtype=np.float64)
    q = np.asarray(neg, dtype=np.float64)
    m, n = float(p.sum()), float(q.sum())
    if m == 0 or n == 0:
        return math.nan, math.nan, math.nan
    v10 = (np.cumsum(q) - 0.5 * q) / n
    v01 = (m - np.cumsum(p) + 0.5 * p) / m
    auc = float((p * v10).sum() / m)
    s10 = float((p * (v10 - auc) ** 2).sum() / (m - 1)) if m > 1 else 0.0
    s01 = float((q * (v01 - auc) ** 2).sum() / (n - 1)) if n > 1 else 0.0
    bound = 0.5 * float((p * q).sum()) / (m * n)
    return auc, s10 / m + s01 / n, bound


def delong_auc(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    level: float = 0.95,
    zero_division: ZeroDivision = "warn",
) -> Estimate:
    """Binary ROC-AUC with a DeLong confidence interval.

    Definition: the probability that a random positive scores higher than a random negative, ties
    counting one half (the area under the empirical ROC curve).

    Args:
        y_true: binary truth, booleans or 0/1 (1 / ``True`` is the positive class).
        y_score: scores, higher meaning more likely positive; finite floats.
        level: confidence level of the interval.
        zero_division: policy when only one class is present (AUC undefined): ``"warn"`` (NaN plus
            ``UndefinedMetricWarning``), ``"nan"`` or ``"raise"``.

    Returns:
        ``Estimate(auc, lower, upper, level, "delong", n)``; the interval is logit-transformed.

    Raises:
        MetricError: on mismatched lengths, labels other than 0/1, non-finite scores, or an
            undefined AUC with ``zero_division="raise"``.

    Example:
        >>> e = delong_auc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
        >>> round(e.value, 4)
        0.8889
    """
    check_level(level)
    policy = check_zero_division(zero_division)
    yt = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if yt.ndim != 1 or s.ndim != 1 or len(yt) != len(s):
        raise MetricError(
            f"y_true and y_score must be 1-D of equal length; got shapes {yt.shape} and {s.shape}"
        )
    if yt.dtype != np.bool_:
        bad = np.flatnonzero((yt != 0) & (yt != 1))
        if len(bad):
            raise MetricError(
                f"y_true must be 0/1 or boolean; found {yt[bad[0]]!r} at position {int(bad[0])}"
            )
        yt = yt == 1
    finite = np.isfinite(s)
    if not finite.all():
        i = int(np.argmin(finite))
        raise MetricError(f"y_score must be finite; found {s[i]!r} at position {i}")
    pos = np.sort(s[yt])
    neg = np.sort(s[~yt])
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        report_undefined(
            [f"roc_auc: y_true has {'no positives' if m == 0 else 'no negatives'}"], policy
        )
        return Estimate(math.nan, math.nan, math.nan, level, "delong", len(s))
    auc, v10, v01 = delong_components(pos, neg)
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    lo, hi = logit_auc_bounds(auc, float(var), level)
    return Estimate(auc, lo, hi, level, "delong", len(s))
