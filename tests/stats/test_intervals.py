"""Wilson, DeLong, the two-proportion test and Benjamini–Hochberg against independent oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import logit
from sklearn.metrics import roc_auc_score

from assay.errors import MetricError, UndefinedMetricWarning
from assay.stats import benjamini_hochberg, delong_auc, two_proportion_test, wilson_interval
from assay.stats._wilson import z_value


@pytest.mark.parametrize("n", [1, 2, 7, 50, 1000])
@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
def test_wilson_matches_scipy(n, level):
    for k in sorted({0, 1, n // 3, n // 2, n - 1, n} - {-1}):
        if k < 0 or k > n:
            continue
        ours = wilson_interval(k, n, level=level)
        ref = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        assert ours.value == k / n
        assert ours.lower == pytest.approx(ref.low, abs=1e-12)
        assert ours.upper == pytest.approx(ref.high, abs=1e-12)
        assert ours.method == "wilson" and ours.n == n


def test_wilson_edge_cases():
    assert math.isnan(wilson_interval(0, 0).value)
    with pytest.raises(MetricError):
        wilson_interval(5, 3)
    with pytest.raises(MetricError):
        wilson_interval(1, 3, level=1.5)


def slow_delong(y, s):
    """Literal DeLong (1988): structural components from the m × n kernel matrix."""
    x, yy = s[y == 1], s[y == 0]
    psi = (x[:, None] > yy[None, :]) + 0.5 * (x[:, None] == yy[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    auc = psi.mean()
    var = v10.var(ddof=1) / len(x) + v01.var(ddof=1) / len(yy)
    return auc, var


@pytest.mark.parametrize("ties", [False, True])
def test_delong_against_literal_and_sklearn(ties, seed):
    rng = np.random.default_rng(seed)
    for rep in range(30):
        n = int(rng.integers(5, 300))
        y = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(int)
        y[:2] = [0, 1]
        s = rng.normal(size=n) + y * rng.uniform(0, 2)
        if ties:
            s = np.round(s * 2) / 2
        est = delong_auc(y, s, level=0.9)
        auc, var = slow_delong(y, s)
        assert est.value == pytest.approx(auc, abs=1e-12)
        assert est.value == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        if 0 < auc < 1 and var > 0:
            se = (logit(est.upper) - logit(auc)) * auc * (1 - auc) / z_value(0.9)
            assert se == pytest.approx(math.sqrt(var), rel=1e-9), rep
            se_lo = (logit(auc) - logit(est.lower)) * auc * (1 - auc) / z_value(0.9)
            assert se_lo == pytest.approx(math.sqrt(var), rel=1e-9)


def test_delong_edge_cases():
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(delong_auc([1, 1], [0.2, 0.3]).value)
    with pytest.raises(MetricError, match="0/1"):
        delong_auc([0, 2], [0.1, 0.2])
    with pytest.raises(MetricError, match="position 1"):
        delong_auc([0, 1], [0.1, np.nan])
    perfect = delong_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert perfect.value == 1.0 and perfect.upper == 1.0


@pytest.mark.parametrize("alt", ["two-sided", "less", "greater"])
def test_two_proportion_matches_z_test(alt, seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        n1, n2 = rng.integers(10, 500, 2)
        k1, k2 = rng.integers(0, n1 + 1), rng.integers(0, n2 + 1)
        p = two_proportion_test(int(k1), int(n1), int(k2), int(n2), alternative=alt)
        if alt == "two-sided":
            table = [[k1, n1 - k1], [k2, n2 - k2]]
            if 0 < k1 + k2 < n1 + n2:
                ref = sps.chi2_contingency(table, correction=False).pvalue
                assert p == pytest.approx(ref, rel=1e-9)
        else:
            two = two_proportion_test(int(k1), int(n1), int(k2), int(n2))
            other = two_proportion_test(
                int(k1), int(n1), int(k2), int(n2),
                alternative="greater" if alt == "less" else "less",
            )
            assert p + other == pytest.approx(1.0)
            assert min(p, other) * 2 == pytest.approx(two)


def test_benjamini_hochberg_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    for m in (1, 2, 10, 100):
        p = np.concatenate([rng.uniform(size=m), rng.uniform(0, 0.01, size=m // 3)])
        adj, rej = benjamini_hochberg(p, alpha=0.1)
        np.testing.assert_allclose(adj, sps.false_discovery_control(p, method="bh"), rtol=1e-12)
        np.testing.assert_array_equal(rej, adj <= 0.1)
    adj, rej = benjamini_hochberg([0.01, np.nan, 0.02])
    assert math.isnan(adj[1]) and not rej[1]
    with pytest.raises(MetricError):
        benjamini_hochberg([1.5])
