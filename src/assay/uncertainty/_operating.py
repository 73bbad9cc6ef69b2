"""Operating points of a binary classifier: a threshold on the positive score chosen on
calibration rows, and the metrics it gives on the test rows.

A row is predicted positive when its score is ``≥ threshold``. The threshold is chosen among the
calibration scores (and ``+inf``, nothing positive):

* ``specificity: s``: the most sensitive threshold whose calibration specificity is ``≥ s``;
  of equally sensitive ones the highest (the most specific), as the first such point of
  scikit-learn's ``roc_curve``;
* ``sensitivity: s``: the highest threshold whose calibration sensitivity is ``≥ s``;
* ``recall: r`` (precision at a recall): as ``sensitivity``; the precision is reported;
* ``costs: {fn, fp}``: the threshold minimising ``fn · FN + fp · FP`` on the calibration rows
  (the highest of equal costs).

On the test rows: sensitivity, specificity, precision (PPV), NPV, the positive rate, and the
expected cost, each with a Wilson interval (the threshold is fixed, so each is a proportion of
test rows). The calibration values are reported beside them: a gap shows how far the chosen
point moved on new data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from assay.errors import MetricError
from assay.stats import Estimate, wilson_interval
from assay.stats._wilson import z_value

__all__ = ["OperatingPoint", "Target", "choose_threshold", "operating_point", "rates_at"]

F = NDArray[np.float64]
B = NDArray[np.bool_]
Target = Literal["specificity", "sensitivity", "recall", "costs"]


def _curve(score: F, positive: B) -> tuple[F, F, F]:
    """Candidate thresholds (decreasing, ``inf`` first) with TP and FP counts at each."""
    order = np.argsort(-score, kind="stable")
    s = score[order]
    pos = positive[order].astype(np.float64)
    tp = np.cumsum(pos)
    fp = np.cumsum(1.0 - pos)
    last = np.r_[s[1:] != s[:-1], True]  # the last row of each tied score
    thr = np.r_[np.inf, s[last]]
    return thr, np.r_[0.0, tp[last]], np.r_[0.0, fp[last]]


def choose_threshold(
    score: F,
    positive: B,
    *,
    target: Target,
    value: float | None = None,
    cost_fn: float = 1.0,
    cost_fp: float = 1.0,
) -> float:
    """The threshold meeting ``target`` on these (calibration) rows; see the module doc.

    Raises:
        MetricError: no positive or no negative row; ``value`` missing or outside [0, 1].
    """
    score = np.asarray(score, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise MetricError(
            f"an operating point needs positive and negative rows; got {n_pos} positive and "
            f"{n_neg} negative"
        )
    thr, tp, fp = _curve(score, positive)
    if target == "costs":
        cost = cost_fn * (n_pos - tp) + cost_fp * fp
        return float(thr[int(np.argmin(cost))])  # first minimum: the highest threshold
    if value is None or not 0.0 <= value <= 1.0:
        raise MetricError(f"the {target} to hold must be in [0, 1]; got {value}")
    if target == "specificity":
        ok = np.flatnonzero((n_neg - fp) / n_neg >= value - 1e-12)  # holds at inf at least
        best_tp = tp[ok].max()
        return float(thr[ok[np.argmax(tp[ok] == best_tp)]])
    reached = np.flatnonzero(tp / n_pos >= value - 1e-12)  # at the lowest threshold at least
    return float(thr[reached[0]])


@dataclass(frozen=True)
class Rates:
    """Counts and rates at one threshold."""

    tp: int
    fp: int
    tn: int
    fn: int

    def estimates(
        self, *, level: float, cost_fn: float | None = None, cost_fp: float | None = None
    ) -> dict[str, Estimate]:
        n = self.tp + self.fp + self.tn + self.fn
        out = {
            "sensitivity": wilson_interval(self.tp, self.tp + self.fn, level=level),
            "specificity": wilson_interval(self.tn, self.tn + self.fp, level=level),
            "precision": wilson_interval(self.tp, self.tp + self.fp, level=level),
            "npv": wilson_interval(self.tn, self.tn + self.fn, level=level),
            "positive_rate": wilson_interval(self.tp + self.fp, n, level=level),
        }
        if cost_fn is not None and cost_fp is not None and n:
            # the mean of a per-row cost that is cost_fn, cost_fp or 0: normal interval with
            # the multinomial variance
            p_fn, p_fp = self.fn / n, self.fp / n
            mean = cost_fn * p_fn + cost_fp * p_fp
            var = cost_fn**2 * p_fn + cost_fp**2 * p_fp - mean**2
            half = z_value(level) * math.sqrt(max(var, 0.0) / n)
            out["cost"] = Estimate(mean, max(mean - half, 0.0), mean + half, level, "normal", n)
        return out


def rates_at(score: F, positive: B, threshold: float) -> Rates:
    """TP, FP, TN, FN when rows with ``score ≥ threshold`` are predicted positive."""
    pred = np.asarray(score, dtype=np.float64) >= threshold
    pos = np.asarray(positive, dtype=bool)
    return Rates(
        int((pred & pos).sum()),
        int((pred & ~pos).sum()),
        int((~pred & ~pos).sum()),
        int((~pred & pos).sum()),
    )


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold chosen on calibration rows and what it gives on test rows.

    Attributes:
        target: what was held (``specificity``, ``sensitivity``, ``recall``, ``costs``).
        value: the level held (NaN for ``costs``).
        threshold: the chosen threshold on the positive score.
        calibration: the rates on the calibration rows (point values).
        test: the rates on the test rows, with Wilson intervals.
        test_counts: TP, FP, TN, FN on the test rows.
    """

    target: str
    value: float
    threshold: float
    calibration: dict[str, float]
    test: dict[str, Estimate]
    test_counts: Rates


def operating_point(
    cal_score: F,
    cal_positive: B,
    test_score: F,
    test_positive: B,
    *,
    target: Target,
    value: float | None = None,
    cost_fn: float = 1.0,
    cost_fp: float = 1.0,
    level: float = 0.95,
) -> OperatingPoint:
    """Choose the threshold on the calibration rows; measure it on the test rows.

    Example:
        >>> s = np.array([0.1, 0.4, 0.35, 0.8]); y = np.array([False, False, True, True])
        >>> op = operating_point(s, y, s, y, target="specificity", value=0.5)
        >>> float(op.threshold), float(op.test["sensitivity"].value)
        (0.35, 1.0)
    """
    thr = choose_threshold(
        cal_score, cal_positive, target=target, value=value, cost_fn=cost_fn, cost_fp=cost_fp
    )
    costs = (cost_fn, cost_fp) if target == "costs" else (None, None)
    cal = rates_at(cal_score, cal_positive, thr).estimates(
        level=level, cost_fn=costs[0], cost_fp=costs[1]
    )
    test = rates_at(test_score, test_positive, thr)
    return OperatingPoint(
        target,
        math.nan if value is None else float(value),
        thr,
        {k: e.value for k, e in cal.items()},
        test.estimates(level=level, cost_fn=costs[0], cost_fp=costs[1]),
        test,
    )
