"""``sort_order``: the packed-key sort used for probability columns is an exact sort."""

from __future__ import annotations

import numpy as np
import pytest

from assay.metrics._ranking import sort_order

EPS = np.finfo(np.float64).eps


def _cases(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [
        rng.random(n),
        np.round(rng.random(n), 2),  # many ties
        0.5 + rng.integers(0, 50, n) * EPS,  # equal high bits, distinct low bits
        1.0 - rng.integers(0, 9, n) * EPS / 2,  # the same just below 1
        np.where(rng.random(n) < 0.5, 0.0, -0.0) + rng.integers(0, 2, n),  # signed zeros
        1e-300 * rng.random(n),  # subnormal-adjacent magnitudes
        rng.random(n) * 3,  # outside [0, 1]: falls back to argsort
        rng.normal(size=n),  # negative values: falls back to argsort
    ]


@pytest.mark.parametrize("n", [1, 2, 3, 17, 1000, 50_000])
def test_sort_order_is_an_exact_sort(n: int) -> None:
    rng = np.random.default_rng(n)
    for x in _cases(n, rng):
        for view in (x, np.repeat(x[:, None], 2, axis=1)[:, 0]):  # contiguous and strided
            order, s = sort_order(view)
            assert np.array_equal(np.sort(order), np.arange(n))
            np.testing.assert_array_equal(s, view[order])
            np.testing.assert_array_equal(s, np.sort(view))
