"""Split conformal: equal to MAPIE on the same rows; marginal coverage ≥ 1 − α by simulation;
the smallest calibration set."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression

from assay.errors import MetricError
from assay.uncertainty import (
    aps_scores,
    conformal_classification,
    conformal_quantile,
    conformal_regression,
    coverage_flag,
    min_calibration_size,
)

mapie_classification = pytest.importorskip("mapie.classification")
mapie_regression = pytest.importorskip("mapie.regression")


@pytest.fixture(scope="module")
def fitted():
    X, y = make_classification(
        n_samples=1500, n_features=8, n_informative=5, n_classes=4, random_state=0
    )
    clf = LogisticRegression(max_iter=500).fit(X[:600], y[:600])
    return clf, X[600:1000], y[600:1000], X[1000:], y[1000:]


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_lac_sets_and_coverage_equal_mapie(fitted, alpha):
    clf, Xc, yc, Xt, yt = fitted
    m = mapie_classification.SplitConformalClassifier(
        clf, confidence_level=1 - alpha, conformity_score="lac", prefit=True
    ).conformalize(Xc, yc)
    _, sets = m.predict_set(Xt)
    ours = conformal_classification(
        clf.predict_proba(Xc), yc, clf.predict_proba(Xt), yt, alpha=alpha, method="lac"
    )
    assert np.array_equal(ours.sets, sets[:, :, 0])
    assert ours.coverage.value == pytest.approx(sets[np.arange(len(yt)), yt, 0].mean())
    assert ours.size.value == pytest.approx(sets[:, :, 0].sum(axis=1).mean())


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_aps_sets_equal_mapie_with_its_uniform_draws(fitted, alpha):
    """MAPIE randomises APS calibration scores with ``RandomState(random_state).uniform``; given
    the same draws, our scores, quantile and sets are MAPIE's."""
    clf, Xc, yc, Xt, _yt = fitted
    m = mapie_classification.SplitConformalClassifier(
        clf, confidence_level=1 - alpha, conformity_score="aps", prefit=True, random_state=7
    ).conformalize(Xc, yc)
    _, sets = m.predict_set(Xt)
    u = np.random.RandomState(7).uniform(size=len(yc))
    pc, pt = clf.predict_proba(Xc), clf.predict_proba(Xt)
    scores = aps_scores(pc, yc, u=u)
    assert np.allclose(scores, m.conformity_scores.ravel())
    q = conformal_quantile(scores, alpha)
    from assay.uncertainty import aps_sets

    ours = aps_sets(pt, q)
    assert np.array_equal(ours, sets[:, :, 0])


@pytest.mark.parametrize("alpha", [0.1, 0.2])
def test_absolute_residual_intervals_equal_mapie(alpha):
    X, y = make_regression(n_samples=900, n_features=5, noise=10.0, random_state=1)
    reg = LinearRegression().fit(X[:300], y[:300])
    m = mapie_regression.SplitConformalRegressor(
        reg, confidence_level=1 - alpha, prefit=True
    ).conformalize(X[300:600], y[300:600])
    _, bounds = m.predict_interval(X[600:])
    ours = conformal_regression(
        y[300:600], reg.predict(X[300:600]), y[600:], reg.predict(X[600:]), alpha=alpha
    )
    assert np.allclose(ours.lower, bounds[:, 0, 0])
    assert np.allclose(ours.upper, bounds[:, 1, 0])


@pytest.mark.parametrize("method", ["lac", "aps", "raps"])
def test_marginal_coverage_is_at_least_nominal_by_simulation(method, seed):
    """Split conformal guarantees ``1 − α ≤ P(cover) ≤ 1 − α + 1/(n+1)`` over draws of the
    calibration and test rows. 400 draws of n=50 calibration rows and 200 test rows: the mean
    coverage has a standard error ≤ sqrt(0.1·0.9 / (400·200)) plus the calibration draw's own
    spread (≈ 0.042/√400 = 0.0021); 4 standard errors of that, 0.01, is the tolerance. The model
    answers ``softmax(2·logits)`` while labels are drawn from ``softmax(logits)``: miscalibrated,
    and coverage must hold anyway."""
    rng = np.random.default_rng(seed)
    alpha, n_cal, n_test, reps, k = 0.1, 50, 200, 400, 5
    covs = []
    for _ in range(reps):
        n = n_cal + n_test
        logits = rng.normal(size=(n, k)) * 1.5
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = (rng.random((n, 1)) > p.cumsum(axis=1)).sum(axis=1)  # drawn from p itself
        q = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)
        r = conformal_classification(
            q[:n_cal], y[:n_cal], q[n_cal:], y[n_cal:], alpha=alpha, method=method
        )
        covs.append(r.coverage.value)
    mean = float(np.mean(covs))
    assert mean >= 1 - alpha - 0.01
    if method == "lac":  # the upper bound needs tie-free scores; APS sets that always
        # include the crossing class are conservative, so only the lower bound holds for them
        assert mean <= 1 - alpha + 1 / (n_cal + 1) + 0.01


def test_min_calibration_size_is_the_exact_rule():
    for alpha in (0.5, 0.3, 0.2, 0.1, 0.05, 0.01, 0.07):
        n = min_calibration_size(alpha)
        assert n == math.ceil(1 / alpha - 1e-12) - 1
        assert math.ceil((n + 1) * (1 - alpha)) <= n
        assert math.ceil(n * (1 - alpha)) > n - 1  # n - 1 rows are too few


def test_too_few_calibration_rows_names_the_smallest_n():
    with pytest.raises(MetricError, match=r"8 calibration rows are too few for alpha=0.1.*= 9"):
        conformal_quantile(np.linspace(0, 1, 8), 0.1)
    assert conformal_quantile(np.linspace(0, 1, 9), 0.1) == 1.0


def test_regression_quantile_without_quantiles_is_a_clear_error():
    y = np.arange(20.0)
    with pytest.raises(MetricError, match="'quantile' needs lower and upper"):
        conformal_regression(y, y, y, y, alpha=0.1, method="quantile")
    with pytest.raises(MetricError, match="'normalized' needs a predicted spread"):
        conformal_regression(y, y, y, y, alpha=0.1, method="normalized")


def test_quantile_regression_interval_is_cqr():
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    qs = np.tile([[-1.0, 1.0]], (400, 1))
    r = conformal_regression(y[:200], qs[:200], y[200:], qs[200:], alpha=0.1, method="quantile")
    scores = np.sort(np.maximum(-1 - y[:200], y[:200] - 1))
    assert r.quantile == scores[math.ceil(201 * 0.9) - 1]
    assert np.allclose(r.upper - r.lower, 2 + 2 * r.quantile)


def test_coverage_flag_when_far_below_nominal():
    p = np.tile([[0.9, 0.1]], (200, 1))
    cal = np.zeros(200, dtype=int)
    test = np.ones(200, dtype=int)  # the truth is never the confident class on the test rows
    r = conformal_classification(p, cal, p, test, alpha=0.1, method="lac")
    flag = coverage_flag(r)
    assert flag is not None and "below the nominal 0.9" in flag


def test_raps_penalty_cuts_large_sets_and_zero_penalty_is_the_aps_score_rule(seed):
    from assay.uncertainty import aps_scores, raps_scores, raps_sets

    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(3000, 10)) * 0.7  # flat probabilities: APS sets grow large
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random((3000, 1)) > p.cumsum(axis=1)).sum(axis=1)
    assert np.allclose(raps_scores(p, y, lam=0.0), aps_scores(p, y))
    q = conformal_quantile(aps_scores(p[:1000], y[:1000]), 0.1)
    by_score = np.array(
        [[aps_scores(row[None, :], np.array([c]))[0] <= q + 1e-8 for c in range(10)] for row in p]
    )
    assert np.array_equal(raps_sets(p, q, lam=0.0), by_score)
    sizes = {
        lam: conformal_classification(
            p[:1000], y[:1000], p[1000:], y[1000:], alpha=0.1, method="raps", raps_lambda=lam
        ).size.value
        for lam in (0.0, 0.05)
    }
    assert sizes[0.05] < sizes[0.0]


@pytest.mark.parametrize("method", ["normalized", "quantile"])
def test_regression_marginal_coverage_by_simulation(method, seed):
    """Normalized and CQR intervals hold ``1 − α ≤ P(cover) ≤ 1 − α + 1/(n+1)`` (continuous
    scores, no ties) on heteroscedastic data whose model is wrong: the spread it reports is the
    true noise scale times a row-wise error factor, and its quantiles are too narrow (±1 σ̂
    around a biased mean). 400 draws of 50 calibration and 200 test rows: the same tolerance
    argument as the classification simulation above (4 standard errors ≈ 0.01)."""
    rng = np.random.default_rng(seed)
    alpha, n_cal, n_test, reps = 0.1, 50, 200, 400
    covs, widths = [], []
    for _ in range(reps):
        n = n_cal + n_test
        x = rng.uniform(0, 4, size=n)
        sigma = 0.2 + x
        y = np.sin(x) + rng.normal(scale=sigma)
        mu = np.sin(x) + 0.3  # biased mean
        s_hat = sigma * rng.uniform(0.5, 2.0, size=n)  # a noisy spread
        if method == "normalized":
            r = conformal_regression(
                y[:n_cal],
                mu[:n_cal],
                y[n_cal:],
                mu[n_cal:],
                alpha=alpha,
                method=method,
                cal_spread=s_hat[:n_cal],
                test_spread=s_hat[n_cal:],
            )
        else:
            qs = np.c_[mu - s_hat, mu + s_hat]
            r = conformal_regression(
                y[:n_cal], qs[:n_cal], y[n_cal:], qs[n_cal:], alpha=alpha, method=method
            )
        covs.append(r.coverage.value)
        widths.append(r.size.value)
    mean = float(np.mean(covs))
    assert 1 - alpha - 0.01 <= mean <= 1 - alpha + 1 / (n_cal + 1) + 0.01
    assert np.all(np.isfinite(widths)) and min(widths) > 0


def test_normalized_intervals_equal_mapie_residual_normalised_score():
    """``normalized`` equals MAPIE's ResidualNormalisedScore with a prefit residual estimator
    that answers the model's own predicted standard deviation (BayesianRidge's)."""
    from mapie.conformity_scores import ResidualNormalisedScore
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import BayesianRidge

    X, y = load_diabetes(return_X_y=True)
    br = BayesianRidge().fit(X[:150], y[:150])

    class Std:
        fitted_ = True  # prefit: MAPIE checks that it looks fitted

        def fit(self, X, y):
            return self

        def predict(self, X):
            return br.predict(X, return_std=True)[1]

    m = mapie_regression.SplitConformalRegressor(
        br,
        confidence_level=0.9,
        conformity_score=ResidualNormalisedScore(residual_estimator=Std(), prefit=True),
        prefit=True,
    ).conformalize(X[150:300], y[150:300])
    _, bounds = m.predict_interval(X[300:])
    (mc, sc), (mt, st) = (
        br.predict(X[150:300], return_std=True),
        br.predict(X[300:], return_std=True),
    )
    ours = conformal_regression(
        y[150:300], mc, y[300:], mt, alpha=0.1, method="normalized", cal_spread=sc, test_spread=st
    )
    assert np.allclose(ours.lower, bounds[:, 0, 0]) and np.allclose(ours.upper, bounds[:, 1, 0])
