"""Selective prediction: the risk–coverage curve by its definition, SGR's guarantee by
simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.uncertainty import (
    confidence_scores,
    guaranteed_risk_threshold,
    risk_coverage,
    selective_at,
    selective_at_threshold,
)


def test_risk_coverage_curve_and_aurc_by_definition(seed):
    rng = np.random.default_rng(seed)
    conf = rng.random(300)
    loss = (rng.random(300) > conf).astype(float)
    rc = risk_coverage(conf, loss)
    order = sorted(range(300), key=lambda i: -conf[i])
    for k in (1, 50, 150, 300):
        assert rc.risk[k - 1] == pytest.approx(np.mean([loss[i] for i in order[:k]]))
    assert rc.aurc == pytest.approx(np.mean(rc.risk))
    # an oracle confidence (every error last) has excess AURC ≈ 0 (the continuous form is
    # within 1/n of the discrete one)
    oracle = risk_coverage(-loss + rng.random(300) * 1e-3, loss)
    assert abs(oracle.excess_aurc) < 2 / 300
    assert rc.excess_aurc > oracle.excess_aurc


def test_confidence_scores():
    p = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    assert confidence_scores(p).tolist() == [0.7, 0.4]
    assert np.allclose(confidence_scores(p, kind="margin"), [0.5, 0.05])
    ent = confidence_scores(p, kind="negative_entropy")
    assert ent[0] == pytest.approx(sum(x * math.log(x) for x in p[0]))


def test_selective_at_coverage_keeps_the_most_confident():
    conf = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    loss = np.array([0, 0, 0, 1, 0, 0, 1, 1, 1, 1], dtype=float)
    s = selective_at(conf, loss, 0.5)
    assert s.n_kept == 5 and s.risk.value == pytest.approx(0.2) and s.threshold == 0.5
    assert s.accuracy.value == pytest.approx(0.8) and s.risk.method == "wilson"
    t = selective_at_threshold(conf, loss, 0.5)
    assert t.coverage.value == 0.5 and t.risk.value == pytest.approx(0.2)


def test_sgr_guarantee_holds_by_simulation(seed):
    """Over 300 draws of 1000 calibration rows, the true risk of the rows kept at the chosen
    threshold exceeds the target in at most δ = 0.1 of the draws (plus 3 binomial standard errors
    of 300 draws: 0.052)."""
    rng = np.random.default_rng(seed)
    target, delta, reps = 0.08, 0.1, 300

    def draw(n):
        conf = rng.random(n)
        loss = (rng.random(n) < 0.4 * (1 - conf) ** 2).astype(float)  # P(error | conf)
        return conf, loss

    def true_risk(t):  # E[0.4 (1 − c)² | c ≥ t] for c ~ U(0, 1)
        return 0.4 * (1 - t) ** 2 / 3

    violations = 0
    found = 0
    for _ in range(reps):
        g = guaranteed_risk_threshold(*draw(1000), target_risk=target, delta=delta)
        if g.found:
            found += 1
            violations += true_risk(g.threshold) > target
            assert g.risk_bound <= target
    assert found > reps * 0.9
    assert violations / reps <= delta + 0.052


def test_sgr_finds_nothing_when_no_threshold_can_hold_the_target():
    conf = np.linspace(0, 1, 50)
    loss = np.ones(50)
    g = guaranteed_risk_threshold(conf, loss, target_risk=0.01)
    assert not g.found and g.threshold == math.inf and "calibration rows" in g.guarantee


def test_regression_with_a_predicted_spread_abstains_on_the_widest(seed):
    """Regression: the confidence is minus the predicted spread and the loss the absolute error;
    a spread that tracks the noise gives a risk–coverage curve that rises; the excess AURC is
    over the oracle that keeps the smallest errors first (a literal loop here)."""
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.1, 3.0, size=2000)
    err = np.abs(rng.normal(scale=sigma))
    rc = risk_coverage(-sigma, err)
    assert rc.risk[199] < rc.risk[-1] / 3  # the 10% most certain rows: far smaller errors
    sorted_err = np.sort(err)
    oracle = np.mean([sorted_err[: k + 1].mean() for k in range(len(err))])
    assert rc.excess_aurc == pytest.approx(rc.aurc - oracle, rel=1e-9)
    assert 0 < rc.excess_aurc < rc.aurc
    shuffled = risk_coverage(rng.permutation(-sigma), err)
    assert rc.aurc < shuffled.aurc


def test_aurc_interval_covers_the_value_and_shrinks_with_n(seed):
    from assay.uncertainty import aurc_estimates

    rng = np.random.default_rng(seed)
    widths = []
    for n in (200, 3200):
        conf = rng.random(n)
        loss = (rng.random(n) > conf).astype(float)
        a, e = aurc_estimates(conf, loss, n_bootstrap=200, random_state=rng)
        assert a.lower <= a.value <= a.upper and e.lower <= e.value <= e.upper
        assert a.value == pytest.approx(risk_coverage(conf, loss).aurc)
        widths.append(a.width)
    assert widths[1] < widths[0] / 2  # about 1/sqrt(16) = 1/4 of the width
