"""Paired tests against independent references: scipy, statsmodels, literal definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from assay.stats import (
    holm,
    mcnemar_test,
    min_detectable_effect,
    paired_delong,
    paired_proportion_difference,
    required_sample_size,
)


@pytest.mark.parametrize(
    ("b", "c"), [(0, 0), (5, 15), (15, 5), (3, 4), (40, 61), (0, 9), (120, 80)]
)
def test_mcnemar_exact_matches_binomial_test_and_statsmodels(b: int, c: int) -> None:
    got = mcnemar_test(b, c, method="exact").p_value
    if b + c == 0:
        assert got == 1.0
        return
    assert got == pytest.approx(binomtest(b, b + c, 0.5).pvalue, abs=1e-12)
    ref = sm_mcnemar(np.array([[10, b], [c, 10]]), exact=True).pvalue
    assert got == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize(("b", "c"), [(5, 15), (3, 4), (40, 61), (0, 9)])
def test_mcnemar_mid_p_and_asymptotic(b: int, c: int) -> None:
    n, k = b + c, min(b, c)
    # Literal mid-p: twice the lower tail with half the point mass (Fagerland et al. 2013).
    lower = sum(math.comb(n, i) for i in range(k)) / 2**n
    mid = 2 * (lower + 0.5 * math.comb(n, k) / 2**n)
    assert mcnemar_test(b, c, method="mid-p").p_value == pytest.approx(min(1.0, mid), abs=1e-12)
    ref = sm_mcnemar(np.array([[1, b], [c, 1]]), exact=False, correction=False)
    res = mcnemar_test(b, c, method="asymptotic")
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.p_value == pytest.approx(ref.pvalue, abs=1e-12)


def test_holm_matches_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for m in (1, 2, 5, 17):
        p = rng.uniform(0, 0.2, m)
        ref = multipletests(p, method="holm")[1]
        np.testing.assert_allclose(holm(p), ref, atol=1e-12)
    out = holm([0.01, math.nan, 0.04])
    assert math.isnan(out[1]) and out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.04)


def _literal_delong(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """DeLong et al. (1988) from the O(mn) definition of the structural components."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    m, n = len(pos), len(neg)

    def psi(x: float, z: float) -> float:
        return 1.0 if x > z else 0.5 if x == z else 0.0

    comps = []
    for s in (a, b):
        v10 = np.array([sum(psi(s[i], s[j]) for j in neg) / n for i in pos])
        v01 = np.array([sum(psi(s[i], s[j]) for i in pos) / m for j in neg])
        comps.append((v10, v01))
    s10 = np.cov(np.vstack([comps[0][0], comps[1][0]]))
    s01 = np.cov(np.vstack([comps[0][1], comps[1][1]]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    return float(comps[0][0].mean()), float(comps[1][0].mean()), float(var)


def test_paired_delong_matches_literal_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 120
    y = rng.integers(0, 2, n)
    a = np.round(y * 0.8 + rng.normal(0, 1, n), 1)  # rounded: ties count one half
    b = np.round(0.5 * a + y * 0.3 + rng.normal(0, 1, n), 1)
    r = paired_delong(y, a, b)
    auc_a, auc_b, var = _literal_delong(y, a, b)
    assert r.first.value == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert r.second.value == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    assert (r.first.value, r.second.value) == pytest.approx((auc_a, auc_b), abs=1e-12)
    z = (auc_a - auc_b) / math.sqrt(var)
    assert r.test.statistic == pytest.approx(z, rel=1e-9)
    half = 1.959963984540054 * math.sqrt(var)
    assert (r.difference.lower, r.difference.upper) == pytest.approx(
        (auc_a - auc_b - half, auc_a - auc_b + half), abs=1e-9
    )


def test_paired_delong_identical_scores_have_no_difference() -> None:
    y = np.array([0, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.9, 0.3, 0.6, 0.4, 0.5])
    r = paired_delong(y, s, s)
    assert r.difference.value == 0 and r.test.p_value == 1.0


def test_required_sample_size_gives_the_power_it_promises(seed: int) -> None:
    """Simulate McNemar tables at the advised n: non-inferiority is shown ~80% of the time."""
    rng = np.random.default_rng(seed)
    disc = 0.2  # discordant fraction, split evenly: the models are equally good
    n0 = 500
    e0 = paired_proportion_difference(
        int(n0 * 0.7), int(n0 * disc / 2), int(n0 * disc / 2), n0 - int(n0 * 0.7) - int(n0 * disc)
    )
    se0 = (e0.upper - e0.lower) / (2 * 1.959963984540054)
    margin = 0.03
    n_req = math.ceil(required_sample_size(se0, n0, margin, alpha=0.05, power=0.8))
    assert 1000 < n_req < 3000
    wins = 0
    reps = 400
    cells = rng.multinomial(n_req, [0.7, disc / 2, disc / 2, 0.1], size=reps)
    for a, b, c, d in cells:
        e = paired_proportion_difference(int(a), int(b), int(c), int(d), level=0.90)
        wins += e.lower > -margin  # one-sided 5% test = lower bound of the 90% interval
    assert 0.72 <= wins / reps <= 0.88
    # MDE at n: the difference with 80% power two-sided.
    assert min_detectable_effect(se0) == pytest.approx((1.959964 + 0.841621) * se0, rel=1e-5)
    assert math.isinf(required_sample_size(se0, n0, 0.0))
