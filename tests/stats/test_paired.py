"""Newcombe's paired-proportion difference interval: literal formula, limits and coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.errors import MetricError
from assay.stats import paired_proportion_difference, proportion_difference, wilson_interval


def _literal(a: int, b: int, c: int, d: int, z: float = 1.959963984540054) -> tuple[float, float]:
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    w1, w2 = wilson_interval(a + b, n), wilson_interval(a + c, n)
    den = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(den) if den else 0.0
    dl = math.sqrt(
        (p1 - w1.lower) ** 2 - 2 * phi * (p1 - w1.lower) * (w2.upper - p2) + (w2.upper - p2) ** 2
    )
    du = math.sqrt(
        (w1.upper - p1) ** 2 - 2 * phi * (w1.upper - p1) * (p2 - w2.lower) + (p2 - w2.lower) ** 2
    )
    return p1 - p2 - dl, p1 - p2 + du


@pytest.mark.parametrize("table", [(12, 9, 2, 21), (80, 5, 15, 0), (50, 0, 0, 50), (3, 1, 7, 40)])
def test_matches_the_formula(table: tuple[int, int, int, int]) -> None:
    e = paired_proportion_difference(*table)
    lo, hi = _literal(*table)
    assert e.lower == pytest.approx(max(-1, lo), abs=1e-12)
    assert e.upper == pytest.approx(min(1, hi), abs=1e-12)
    assert e.value == pytest.approx((table[1] - table[2]) / sum(table), abs=1e-15)


def test_no_correlation_gives_the_unpaired_interval() -> None:
    # phi = 0 when ad = bc: the interval is Newcombe's independent-samples one
    e = paired_proportion_difference(20, 20, 30, 30)
    u = proportion_difference(40, 100, 50, 100)
    assert (e.lower, e.upper) == pytest.approx((u.lower, u.upper), abs=1e-12)


def test_empty_and_bad_counts() -> None:
    assert math.isnan(paired_proportion_difference(0, 0, 0, 0).value)
    with pytest.raises(MetricError):
        paired_proportion_difference(1, -1, 0, 0)


def test_coverage_is_near_nominal(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # original right 80%, perturbed flips 10% of the right ones and fixes 20% of the wrong ones
    probs = np.array(
        [0.8 * 0.9, 0.2 * 0.2, 0.8 * 0.1, 0.2 * 0.8]
    )  # both, pert only, orig only, neither
    true = probs[0] + probs[1] - (probs[0] + probs[2])
    hits = 0
    reps = 2000
    for counts in rng.multinomial(150, probs, size=reps):
        e = paired_proportion_difference(*map(int, counts))
        hits += e.lower <= true <= e.upper
    assert 0.93 <= hits / reps <= 0.975
