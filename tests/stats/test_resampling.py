"""Nadeau–Bengio, Newcombe and Welch intervals against literal formulas and published values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from assay.stats import corrected_resampled_t, mean_difference, proportion_difference


def test_nadeau_bengio_matches_the_literal_formula(seed: int) -> None:
    x = np.random.default_rng(seed).normal(0.8, 0.02, size=10)
    e = corrected_resampled_t(x, n_train=900, n_test=100, level=0.9)
    j = len(x)
    se = math.sqrt((1 / j + 100 / 900) * np.var(x, ddof=1))
    t = sps.t.ppf(0.95, j - 1)
    assert e.value == pytest.approx(x.mean(), abs=1e-12)
    assert e.lower == pytest.approx(x.mean() - t * se, abs=1e-12)
    assert e.upper == pytest.approx(x.mean() + t * se, abs=1e-12)
    # wider than the naive interval, which ignores the overlap between training folds
    naive = sps.t.interval(0.9, j - 1, loc=x.mean(), scale=np.std(x, ddof=1) / math.sqrt(j))
    assert e.lower < naive[0] and e.upper > naive[1]
    assert e.method == "nadeau-bengio" and e.n == 10


def test_nadeau_bengio_degenerate_inputs() -> None:
    assert math.isnan(corrected_resampled_t([], n_train=10, n_test=2).value)
    one = corrected_resampled_t([0.5], n_train=10, n_test=2)
    assert one.value == 0.5 and math.isnan(one.lower)


def test_newcombe_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II, example (56/70 − 48/80), method 10
    e = proportion_difference(56, 70, 48, 80)
    assert e.value == pytest.approx(0.2)
    assert e.lower == pytest.approx(0.0524, abs=5e-5)
    assert e.upper == pytest.approx(0.3339, abs=5e-5)


def test_welch_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(1, 1, 40), rng.normal(0.5, 2, 25)
    e = mean_difference(a, b, level=0.95)
    ci = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (e.lower, e.upper) == pytest.approx((ci.low, ci.high), abs=1e-10)
