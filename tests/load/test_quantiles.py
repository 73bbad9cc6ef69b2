"""Percentiles and their order-statistic intervals, against numpy, scipy and HdrHistogram."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from assay.load import histogram_of, quantile_estimate, samples_needed


@pytest.mark.parametrize("n", [1, 7, 100, 1001])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99, 0.999])
def test_point_is_numpys_inverted_cdf(n: int, q: float, seed: int) -> None:
    x = np.random.default_rng(seed).lognormal(size=n)
    assert quantile_estimate(x, q).value == np.quantile(x, q, method="inverted_cdf")


def _coverage_exact(n: int, q: float, level: float) -> float:
    """P(l <= B <= u - 1), B ~ Binomial(n, q): the interval's exact coverage, a slow literal
    search for the ranks (the smallest l with P(B <= l) >= alpha/2, and likewise for u - 1)."""
    alpha = 1 - level
    cdf = sps.binom(n, q).cdf
    lo = next(k for k in range(n + 1) if cdf(k) >= alpha / 2)
    hi = next(k for k in range(n + 1) if cdf(k) >= 1 - alpha / 2) + 1
    return float(cdf(hi - 1) - cdf(lo - 1))


@pytest.mark.parametrize(("n", "q"), [(200, 0.95), (500, 0.99), (60, 0.5)])
def test_coverage_by_simulation(n: int, q: float, seed: int) -> None:
    # A continuous distribution with a known quantile: exponential, rate 1.
    truth = -math.log(1 - q)
    rng = np.random.default_rng(seed)
    sims = 2000
    covered = 0
    for _ in range(sims):
        e = quantile_estimate(rng.exponential(size=n), q)
        covered += e.lower <= truth <= e.upper
    exact = _coverage_exact(n, q, 0.95)
    assert exact >= 0.95  # conservative by construction
    # Monte Carlo error of a proportion over 2000 runs: 4 standard errors (about 0.02).
    assert abs(covered / sims - exact) < 4 * math.sqrt(exact * (1 - exact) / sims)


def test_samples_needed_is_the_threshold_for_an_upper_bound(seed: int) -> None:
    x = np.random.default_rng(seed).exponential(size=5000)
    for q in (0.95, 0.99, 0.999):
        need = samples_needed(q)
        assert not math.isnan(quantile_estimate(x[:need], q).upper)
        assert math.isnan(quantile_estimate(x[: need - 1], q).upper)
        assert need >= math.log(0.025) / math.log(q) - 1
    assert samples_needed(0.999) == 3688


def test_empty_and_bad_q() -> None:
    assert math.isnan(quantile_estimate([], 0.5).value)
    with pytest.raises(ValueError, match="between 0 and 1"):
        quantile_estimate([1.0], 1.0)


@pytest.mark.parametrize("q", [0.5, 0.95, 0.99, 0.999])
def test_hdr_histogram_agrees_to_its_resolution(q: float, seed: int) -> None:
    # 3 significant digits: HdrHistogram reports the bucket's upper edge, within 0.1%.
    x = np.random.default_rng(seed).pareto(2.5, size=20_000) * 0.05 + 0.01
    h = histogram_of(x)
    exact = np.quantile(x, q, method="inverted_cdf") * 1e6
    assert h.get_value_at_percentile(q * 100) == pytest.approx(exact, rel=2e-3)
    assert h.get_total_count() == x.size


def test_histograms_merge_to_the_whole(seed: int) -> None:
    # Statistics are mergeable: two halves' encoded histograms, decoded and added, give the
    # whole run's counts and percentiles.
    from hdrh.histogram import HdrHistogram

    x = np.random.default_rng(seed).lognormal(-2.0, 1.0, size=3000)
    whole = histogram_of(x)
    merged = HdrHistogram.decode(histogram_of(x[:1234]).encode())
    merged.add(HdrHistogram.decode(histogram_of(x[1234:]).encode()))
    assert merged.get_total_count() == whole.get_total_count()
    for q in (50.0, 95.0, 99.0, 99.9):
        assert merged.get_value_at_percentile(q) == whole.get_value_at_percentile(q)
