"""Operating points against scikit-learn's roc_curve and precision_recall_curve."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve, roc_curve

from assay.errors import MetricError
from assay.uncertainty import choose_threshold, operating_point


def _scores(seed: int, n: int = 500):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    s = np.round(rng.normal(loc=y * 1.2, scale=1.0), 2)  # rounded: ties between rows
    return s, y


@pytest.mark.parametrize("spec", [0.8, 0.9, 0.95, 0.99])
def test_sensitivity_at_specificity_is_roc_curves(seed, spec):
    s, y = _scores(seed)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    ok = 1 - fpr >= spec
    expected_tpr = tpr[ok].max()
    expected_thr = thr[ok][np.argmax(tpr[ok])]
    op = operating_point(s, y, s, y, target="specificity", value=spec)
    assert op.test["sensitivity"].value == pytest.approx(expected_tpr)
    assert op.threshold == pytest.approx(expected_thr)
    assert op.test["specificity"].value >= spec


@pytest.mark.parametrize("sens", [0.5, 0.8, 0.95])
def test_specificity_at_sensitivity_is_roc_curves(seed, sens):
    s, y = _scores(seed)
    fpr, tpr, _thr = roc_curve(y, s, drop_intermediate=False)
    ok = tpr >= sens
    op = operating_point(s, y, s, y, target="sensitivity", value=sens)
    assert op.test["specificity"].value == pytest.approx(1 - fpr[ok].min())


def test_precision_at_recall_is_precision_recall_curves(seed):
    s, y = _scores(seed)
    prec, rec, thr = precision_recall_curve(y, s, drop_intermediate=False)
    r = 0.7
    i = np.flatnonzero(rec[:-1] >= r)[-1]  # the highest threshold reaching the recall
    op = operating_point(s, y, s, y, target="recall", value=r)
    assert op.threshold == pytest.approx(thr[i])
    assert op.test["precision"].value == pytest.approx(prec[i])


def test_cost_weighted_threshold_minimises_the_cost(seed):
    s, y = _scores(seed)
    thr = choose_threshold(s, y, target="costs", cost_fn=10.0, cost_fp=1.0)

    def cost(t):
        pred = s >= t
        return 10 * (y & ~pred).sum() + (~y & pred).sum()

    best = min(cost(t) for t in np.r_[np.inf, np.unique(s)])
    assert cost(thr) == best
    # false negatives 10× dearer: the threshold is lower than with equal costs
    assert thr < choose_threshold(s, y, target="costs")
    op = operating_point(s, y, s, y, target="costs", cost_fn=10.0, cost_fp=1.0)
    assert op.test["cost"].value == pytest.approx(best / len(s))


def test_threshold_on_calibration_rows_is_measured_on_test_rows(seed):
    s, y = _scores(seed, n=2000)
    op = operating_point(s[:1000], y[:1000], s[1000:], y[1000:], target="specificity", value=0.9)
    pred = s[1000:] >= op.threshold
    yt = y[1000:]
    assert op.test["specificity"].value == pytest.approx((~pred & ~yt).sum() / (~yt).sum())
    assert (
        op.test["specificity"].lower < op.test["specificity"].value < op.test["specificity"].upper
    )
    assert op.calibration["specificity"] >= 0.9


def test_one_class_only_is_a_clear_error():
    with pytest.raises(MetricError, match="positive and negative rows"):
        choose_threshold(np.arange(5.0), np.zeros(5, bool), target="specificity", value=0.9)
