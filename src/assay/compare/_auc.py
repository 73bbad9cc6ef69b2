"""Paired comparison of two models' macro one-vs-rest ROC AUC on the same multiclass examples.

The macro OVR AUC averages the binary AUCs "class c against the rest" over the classes that are
present without being every example. Each binary AUC has DeLong's structural components; the
single-model intervals of the performance check turn them into per-example influences summed over
the averaged classes (:class:`assay.metrics._ranking.AucInfluence`), so the covariance between the
binary AUCs is accounted for and ``Var(macro) = Σ_i ψ_i²``. On the same examples the two models'
influences are paired: ``Var(macro₁ − macro₂) = Σ_i (ψ₁ᵢ − ψ₂ᵢ)²``, which for two classes is exactly
DeLong's variance of a difference of correlated AUCs (DeLong, DeLong and Clarke-Pearson 1988).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from assay.errors import MetricError
from assay.metrics._ranking import AucInfluence, OwnClass, SortedColumn
from assay.stats._estimate import Estimate
from assay.stats._wilson import z_value

__all__ = ["PairedMacroAUC", "macro_ovr_auc_influence", "paired_macro_ovr_auc"]


@dataclass(frozen=True)
class PairedMacroAUC:
    """Two models' macro OVR AUCs on the same examples and their paired difference.

    Attributes:
        first, second: each model's macro OVR AUC (point values).
        difference: ``first − second`` with a normal interval from the paired DeLong variance.
        se: standard error of the difference.
        p_value: two-sided p-value of "no difference".
        classes: how many classes entered the average.
    """

    first: float
    second: float
    difference: Estimate
    se: float
    p_value: float
    classes: int


def macro_ovr_auc_influence(
    codes: NDArray[np.int64], proba: NDArray[np.float64], k: int
) -> tuple[float, NDArray[np.float64], int]:
    """Macro OVR AUC of one model and each example's DeLong influence on it.

    Args:
        codes: true class of each example, ``0 … k-1``.
        proba: ``(n, k)`` scores, column ``c`` for class ``c``.
        k: number of classes.

    Returns:
        ``(macro, psi, classes)``: the AUC (NaN when no class is defined), the influences
        (``Σ ψ²`` is the variance) and the number of classes averaged.
    """
    counts = np.bincount(codes, minlength=k).astype(np.int64)
    multi = AucInfluence(counts)
    small = codes.astype(np.min_scalar_type(-max(k, 1)))
    for c in range(k):
        col = SortedColumn.build(np.ascontiguousarray(proba[:, c]), small)
        multi.add(col, OwnClass.build(col, c))
    aucs, psi, _ = multi.ovr()
    ok = ~np.isnan(aucs)
    macro = float(aucs[ok].mean()) if ok.any() else math.nan
    return macro, psi, int(ok.sum())


def paired_macro_ovr_auc(
    y_true: ArrayLike,
    proba_first: ArrayLike,
    proba_second: ArrayLike,
    *,
    level: float = 0.95,
) -> PairedMacroAUC:
    """Compare two models' macro one-vs-rest ROC AUCs on the same examples.

    Args:
        y_true: class codes ``0 … k-1``.
        proba_first: the first model's ``(n, k)`` class scores.
        proba_second: the second model's ``(n, k)`` class scores, same examples and columns.
        level: confidence level of the interval.

    Returns:
        A :class:`PairedMacroAUC`; NaN everywhere when no class is defined.

    Raises:
        MetricError: shapes that disagree, codes out of range, non-finite scores.

    Example:
        >>> r = paired_macro_ovr_auc(
        ...     [0, 1, 2, 0, 1, 2],
        ...     [[.8, .1, .1], [.1, .8, .1], [.1, .1, .8], [.6, .3, .1], [.3, .6, .1], [.2, .2, .6]],
        ...     [[.4, .3, .3], [.3, .4, .3], [.3, .3, .4], [.3, .4, .3], [.4, .3, .3], [.3, .4, .3]],
        ... )
        >>> round(r.first, 3), r.difference.value > 0
        (1.0, True)
    """
    y = np.asarray(y_true, dtype=np.int64).ravel()
    a = np.asarray(proba_first, dtype=np.float64)
    b = np.asarray(proba_second, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape or a.shape[0] != len(y):
        raise MetricError(
            f"y_true ({len(y)}), proba_first {a.shape} and proba_second {b.shape} must be "
            "n examples and (n, k) score matrices with the same columns"
        )
    k = a.shape[1]
    if len(y) and (y.min() < 0 or y.max() >= k):
        raise MetricError(f"class codes must lie in 0 … {k - 1}; found {y.min()} … {y.max()}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise MetricError("scores must be finite; found NaN or infinity")
    ma, psi_a, classes = macro_ovr_auc_influence(y, a, k)
    mb, psi_b, _ = macro_ovr_auc_influence(y, b, k)
    d = ma - mb
    if not math.isfinite(d):
        nan = Estimate(math.nan, math.nan, math.nan, level, "delong-influence-paired", len(y))
        return PairedMacroAUC(ma, mb, nan, math.nan, math.nan, classes)
    diff_psi = psi_a - psi_b
    se = math.sqrt(float(diff_psi @ diff_psi))
    half = z_value(level) * se
    est = Estimate(
        d, max(-1.0, d - half), min(1.0, d + half), level, "delong-influence-paired", len(y)
    )
    p = 1.0 if d == 0 else 0.0 if se == 0 else float(min(1.0, 2.0 * ndtr(-abs(d) / se)))
    return PairedMacroAUC(ma, mb, est, se, p, classes)
