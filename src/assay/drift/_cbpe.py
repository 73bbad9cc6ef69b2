"""Confidence-based performance estimation (CBPE): how well a binary classifier is doing, without labels.

If a model's scores are calibrated — of the rows scored ``q``, a share ``q`` is positive — then each
prediction carries its own chance of being right, and the confusion matrix a window *would* have
once its labels arrive has an expectation that needs no label: a row predicted positive adds ``q``
to the true positives and ``1 - q`` to the false positives, a row predicted negative adds ``q`` to
the false negatives and ``1 - q`` to the true negatives. Accuracy, precision, recall and F1 are
read off that expected matrix, and ROC AUC off the expected ROC curve (rows in score order, each
adding ``q`` to the true-positive and ``1 - q`` to the false-positive mass). These are NannyML's
CBPE estimators (Bialek et al.); the scores are made calibrated first by an isotonic map fitted on
the labelled reference.

**Interval.** Two independent sources of error, added as variances, with a normal interval
``value ± z·sd`` clipped to ``[0, 1]``:

1. *The window's labels are random.* Even with exactly right probabilities, the realised metric
   varies: each label is a Bernoulli draw with probability ``q``. Its variance is worked out by the
   delta method from the per-row variances ``q(1-q)`` (exact for accuracy and precision, first
   order for recall, F1 and AUC).
2. *The calibration map is estimated.* It is refitted on ``n_bootstrap`` bootstrap resamples of the
   reference rows; the spread of the window's estimate across the refits is the calibration's
   share.

The interval is therefore where the realised metric should fall **if the assumptions hold**: no
concept drift (``P(y | score)`` is the same in the window as in the reference) and scores that the
calibration makes calibrated. A realised value outside it is the signal that they do not.

Everything here is arrays in, numbers out; tables, windows and labels arriving later are handled
by ``assay.drift._performance``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import isotonic_regression

from assay.errors import ConfigError, DataError
from assay.stats._random import Seed, as_generator

__all__ = [
    "CALIBRATIONS",
    "ESTIMATED_METRICS",
    "Calibration",
    "MetricMoments",
    "expected_metrics",
    "fit_calibration",
]

F = NDArray[np.float64]

#: The metrics CBPE estimates for a binary classifier, in display order.
ESTIMATED_METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "roc_auc")

#: ``"auto"`` calibrates only when a cross-validated isotonic map lowers the expected calibration
#: error on the reference (NannyML's rule); ``"isotonic"`` always; ``"none"`` never.
CALIBRATIONS: tuple[str, ...] = ("auto", "isotonic", "none")


@dataclass(frozen=True)
class Calibration:
    """The map from a model's score to the probability that the row is positive.

    Attributes:
        method: ``"isotonic"`` (a monotone map fitted on the reference) or ``"none"`` (scores used
            as they are).
        requested: what was asked for: ``"auto"``, ``"isotonic"`` or ``"none"``.
        ece_before: expected calibration error of the raw scores on held-out reference rows
            (10 equal-count bins, 10-fold cross-validation); NaN when not measured.
        ece_after: the same after the cross-validated isotonic map; NaN when not measured.
        x: the map's knots (sorted distinct reference scores).
        y: the calibrated probability at each knot; between knots the map is linear, outside
            them it is flat (as scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``).
    """

    method: str
    requested: str
    ece_before: float = math.nan
    ece_after: float = math.nan
    x: F = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    y: F = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    def apply(self, scores: F) -> F:
        """Calibrated probabilities for ``scores``."""
        return _apply(self.x, self.y, scores) if self.method == "isotonic" else scores

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: method, what was requested and the two cross-validated ECEs."""
        return {
            "method": self.method,
            "requested": self.requested,
            "ece_before": None if math.isnan(self.ece_before) else self.ece_before,
            "ece_after": None if math.isnan(self.ece_after) else self.ece_after,
        }


@dataclass(frozen=True)
class Grouped:
    """Reference rows grouped by distinct score: what an isotonic fit (and its bootstrap) needs."""

    x: F
    inverse: NDArray[np.intp]
    count: F
    positives: F


def group_scores(scores: F, y: F) -> Grouped:
    x, inverse = np.unique(scores, return_inverse=True)
    count = np.bincount(inverse, minlength=len(x)).astype(np.float64)
    positives = np.bincount(inverse, weights=y, minlength=len(x)).astype(np.float64)
    return Grouped(x, inverse, count, positives)


def _isotonic(x: F, count: F, positives: F) -> tuple[F, F]:
    keep = count > 0
    xs, w = x[keep], count[keep]
    fitted = isotonic_regression(positives[keep] / w, weights=w, increasing=True).x
    return xs, np.asarray(fitted, dtype=np.float64)


def _apply(x: F, y: F, scores: F) -> F:
    if len(x) == 1:
        return np.full(len(scores), y[0])
    return np.interp(scores, x, y)


def _ece(proba: F, y: F, n_bins: int = 10) -> float:
    """Expected calibration error with equal-count bins (rows sorted by probability)."""
    order = np.argsort(proba, kind="stable")
    p, t = proba[order], y[order]
    n = len(p)
    bins = min(n_bins, max(n // 2, 1))
    edges = np.linspace(0, n, bins + 1).astype(np.int64)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        if hi > lo:
            total += (hi - lo) / n * abs(p[lo:hi].mean() - t[lo:hi].mean())
    return total


def _cross_validated_ece(
    scores: F, y: F, rng: np.random.Generator, n_folds: int
) -> tuple[float, float]:
    fold = rng.permutation(len(scores)) % n_folds
    calibrated = np.empty_like(scores)
    for k in range(n_folds):
        test = fold == k
        g = group_scores(scores[~test], y[~test])
        x, fitted = _isotonic(g.x, g.count, g.positives)
        calibrated[test] = _apply(x, fitted, scores[test])
    return float(_ece(scores, y)), float(_ece(calibrated, y))


def fit_calibration(
    scores: F, y: F, *, calibration: str = "auto", n_folds: int = 10, seed: Seed = None
) -> Calibration:
    """Fit the score → probability map on labelled reference rows.

    Args:
        scores: the model's score for the positive class, one per reference row (finite).
        y: 1 for a positive row, 0 for a negative one.
        calibration: ``"auto"``, ``"isotonic"`` or ``"none"`` (see :data:`CALIBRATIONS`).
        n_folds: folds of the cross-validation that measures the calibration error.
        seed: the fold assignment's randomness.

    Returns:
        The fitted :class:`Calibration`.

    Raises:
        ConfigError: an unknown ``calibration``.
        DataError: the reference has a single class (nothing to calibrate against).
    """
    if calibration not in CALIBRATIONS:
        raise ConfigError(
            f"calibration must be one of {', '.join(CALIBRATIONS)}; got {calibration!r}"
        )
    if len(np.unique(y)) < 2:
        raise DataError(
            "performance estimation: the reference labels hold one class only; CBPE calibrates "
            "on a reference with both classes"
        )
    if calibration == "none":
        return Calibration("none", calibration)
    before = after = math.nan
    if calibration == "auto":
        folds = min(n_folds, len(scores))
        before, after = _cross_validated_ece(scores, y, as_generator(seed), folds)
    method = "isotonic" if calibration == "isotonic" or after < before else "none"
    if method == "none":
        return Calibration("none", calibration, before, after)
    g = group_scores(scores, y)
    x, fitted = _isotonic(g.x, g.count, g.positives)
    return Calibration("isotonic", calibration, before, after, x, fitted)


def bootstrap_calibrations(
    scores: F, y: F, calibration: Calibration, *, n_bootstrap: int, rng: np.random.Generator
) -> F:
    """The isotonic map refitted on ``n_bootstrap`` resamples of the reference rows.

    Each resample is drawn as counts per row, so no row is copied and the distinct scores are
    sorted once. Every refit is returned on the knots of ``calibration`` (a distinct score left
    out of a resample gets the refit's interpolated value), one row per refit, so that a window
    locates its scores among the knots once for all refits. Empty (0 rows) when the scores are
    not calibrated: there is no map whose error to measure.
    """
    if calibration.method != "isotonic" or n_bootstrap == 0:
        return np.empty((0, len(calibration.x)))
    g = group_scores(scores, y)
    n = len(scores)
    maps = np.empty((n_bootstrap, len(g.x)))
    for b in range(n_bootstrap):
        maps[b] = refit_on_knots(g, y, resample_weights(n, rng))
    return maps


def resample_weights(n: int, rng: np.random.Generator) -> F:
    """How many times each of ``n`` rows is drawn in one bootstrap resample."""
    return np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)


def refit_on_knots(g: Grouped, y: F, weight: F) -> F:
    """The isotonic map refitted with row weights ``weight``, evaluated at every knot of ``g``."""
    count = np.bincount(g.inverse, weights=weight, minlength=len(g.x)).astype(np.float64)
    positives = np.bincount(g.inverse, weights=weight * y, minlength=len(g.x)).astype(np.float64)
    x, fitted = _isotonic(g.x, count, positives)
    return _apply(x, fitted, g.x)


@dataclass(frozen=True)
class Locator:
    """Where a window's scores fall among the knots: linear interpolation weights, found once."""

    lo: NDArray[np.intp]
    hi: NDArray[np.intp]
    frac: F

    @classmethod
    def of(cls, knots: F, scores: F) -> Locator:
        k = len(knots)
        clipped = np.clip(scores, knots[0], knots[-1])
        hi = np.clip(np.searchsorted(knots, clipped, side="left"), 0, k - 1)
        lo = np.maximum(hi - 1, 0)
        span = knots[hi] - knots[lo]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(span > 0, (clipped - knots[lo]) / np.where(span > 0, span, 1.0), 1.0)
        return cls(lo, hi, frac)

    def values(self, y: F) -> F:
        return y[self.lo] * (1.0 - self.frac) + y[self.hi] * self.frac


@dataclass(frozen=True)
class MetricMoments:
    """A metric's CBPE estimate and the variance of the realised metric around it.

    Attributes:
        value: the estimate.
        label_variance: variance of the realised metric when each label is drawn from its
            calibrated probability (delta method).
        calibration_variance: variance of the estimate across refits of the calibration on
            bootstrap resamples of the reference (0 when there are none).
    """

    value: float
    label_variance: float
    calibration_variance: float = 0.0

    @property
    def sd(self) -> float:
        """Standard deviation of realised minus estimated, both sources together."""
        return math.sqrt(self.label_variance + self.calibration_variance)


def _div(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def _count_moments(q: F, predicted_positive: NDArray[np.bool_]) -> dict[str, tuple[float, float]]:
    """Accuracy, precision, recall and F1 of the expected confusion matrix, with label variance.

    The realised true positives are a sum of Bernoulli(q) over rows predicted positive (mean
    ``tp``, variance ``v1``) and the realised false negatives one over rows predicted negative
    (``fn``, ``v0``); the two are independent, and every count metric is a function of them.
    """
    n = len(q)
    var = q * (1.0 - q)
    n1 = float(predicted_positive.sum())
    tp = float(q[predicted_positive].sum())
    v1 = float(var[predicted_positive].sum())
    fn = float(q[~predicted_positive].sum())
    v0 = float(var[~predicted_positive].sum())
    n0 = n - n1
    positives = tp + fn
    f1_den = n1 + positives  # 2TP + FP + FN with FP = n1 - TP
    return {
        "accuracy": (_div(tp + n0 - fn, n), _div(v1 + v0, float(n) ** 2)),
        "precision": (_div(tp, n1), _div(v1, n1**2)),
        "recall": (
            _div(tp, positives),
            _div(fn**2 * v1 + tp**2 * v0, positives**4),
        ),
        "f1": (
            _div(2.0 * tp, f1_den),
            _div(4.0 * ((n1 + fn) ** 2 * v1 + tp**2 * v0), f1_den**4),
        ),
    }


@dataclass(frozen=True)
class ScoreOrder:
    """A window's rows grouped by tied raw score, ascending: computed once, used by every refit."""

    order: NDArray[np.intp]
    group: NDArray[np.intp]
    n_groups: int


def score_order(scores: F) -> ScoreOrder:
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    new = np.empty(len(s), dtype=bool)
    if len(s):
        new[0] = True
        new[1:] = s[1:] != s[:-1]
    group = np.cumsum(new) - 1
    return ScoreOrder(order, group, int(group[-1]) + 1 if len(s) else 0)


def _auc_moments(q: F, so: ScoreOrder, *, with_variance: bool) -> tuple[float, float]:
    """Area under the expected ROC curve and the label variance of the realised AUC.

    Rows are ordered by the raw score (calibration is monotone and may tie rows the raw score
    tells apart); rows with tied raw scores share a diagonal step, as in ``roc_auc_score``.
    """
    auc, d = auc_gradient(q, so, with_gradient=with_variance)
    if d is None:
        return auc, math.nan
    qs = q[so.order]
    return auc, float(np.sum(qs * (1.0 - qs) * d * d))


def auc_gradient(q: F, so: ScoreOrder, *, with_gradient: bool) -> tuple[float, F | None]:
    """Area under the expected ROC curve and its derivative in each row's label.

    The derivative is that of the realised AUC with respect to row ``k``'s label ``y_k`` at
    ``y = q``, in score order (``so.order``); ``None`` when not asked for or the AUC is undefined.
    """
    qs = q[so.order]
    pos = np.bincount(so.group, weights=qs, minlength=so.n_groups)
    neg = np.bincount(so.group, weights=1.0 - qs, minlength=so.n_groups)
    p_total, n_total = float(pos.sum()), float(neg.sum())
    den = p_total * n_total
    if den <= 0:
        return math.nan, None
    neg_below = np.cumsum(neg) - neg
    auc = float(np.dot(pos, neg_below + 0.5 * neg)) / den
    if not with_gradient:
        return auc, None
    pos_above = p_total - np.cumsum(pos)
    g = so.group
    # d realised-U / d y_k: negatives ranked below k gain a pair, positives ranked above lose one.
    du = neg_below[g] + 0.5 * (neg[g] - (1.0 - qs)) - pos_above[g] - 0.5 * (pos[g] - qs)
    return auc, du / den - auc * (n_total - p_total) / den


def expected_metrics(
    scores: F,
    predicted_positive: NDArray[np.bool_],
    calibration: Calibration,
    refits: F,
    metrics: tuple[str, ...] = ESTIMATED_METRICS,
) -> dict[str, MetricMoments]:
    """CBPE estimates for one window, each with both variances.

    Args:
        scores: the raw scores of the window's rows (finite).
        predicted_positive: whether each row was predicted positive.
        calibration: the fitted map.
        refits: the map refitted on bootstrap resamples, on the knots of ``calibration``
            (:func:`bootstrap_calibrations`).
        metrics: which of :data:`ESTIMATED_METRICS` to compute.

    Returns:
        metric name → :class:`MetricMoments`; NaN values where a metric is undefined (no
        predicted positives for precision, no expected positives for recall).
    """
    if len(scores) == 0:
        return {m: MetricMoments(math.nan, math.nan) for m in metrics}
    want_auc = "roc_auc" in metrics
    so = score_order(scores) if want_auc else None
    counts = [m for m in metrics if m != "roc_auc"]

    def point(q: F, *, with_variance: bool) -> dict[str, tuple[float, float]]:
        out = _count_moments(q, predicted_positive) if counts else {}
        if so is not None:
            out["roc_auc"] = _auc_moments(q, so, with_variance=with_variance)
        return out

    main = point(calibration.apply(scores), with_variance=True)
    spread: dict[str, float] = dict.fromkeys(metrics, 0.0)
    if len(refits):
        where = Locator.of(calibration.x, scores)
        values = np.empty((len(refits), len(metrics)))
        for b, knot_values in enumerate(refits):
            refit = point(where.values(knot_values), with_variance=False)
            values[b] = [refit[m][0] for m in metrics]
        with np.errstate(invalid="ignore"):
            sd = np.nanstd(values, axis=0, ddof=1) if len(refits) > 1 else np.zeros(len(metrics))
        spread = {m: float(v) ** 2 for m, v in zip(metrics, sd, strict=True)}
    return {m: MetricMoments(main[m][0], main[m][1], spread[m]) for m in metrics}
