"""Vectorised bootstrap building blocks: count resamples, random-block resamples, percentiles.

Two resampling schemes, both without a Python loop over resamples:

* **Counts** – a statistic that is a function of a table of counts (a confusion matrix) is
  resampled by drawing the whole table at once from ``Multinomial(n, counts / n)``. This is exactly
  the nonparametric bootstrap for i.i.d. rows, at a cost independent of ``n``.
* **Blocks** – for statistics that need per-example values, the examples are split into at most
  ``max_blocks`` blocks at random and each block is reduced to a vector of sufficient statistics
  (sums). A resample draws block multiplicities from ``Multinomial(n_blocks, 1/n_blocks)`` and
  combines the block statistics with one matrix product. With ``n <= max_blocks`` every example is
  its own block and this *is* the ordinary bootstrap; above that it is a cluster bootstrap over a
  random partition, which has the same variance to first order and costs
  ``O(n + B · n_blocks · d)`` instead of ``O(B · n)``.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DEFAULT_MAX_BLOCKS",
    "block_codes",
    "block_multiplicities",
    "block_sums",
    "multinomial_count_resamples",
    "percentile_bounds",
]

DEFAULT_MAX_BLOCKS = 2000


def multinomial_count_resamples(
    counts: NDArray[np.integer], n_bootstrap: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Draw ``n_bootstrap`` resampled count tables of the same shape and total as ``counts``."""
    flat = np.asarray(counts, dtype=np.int64).ravel()
    total = int(flat.sum())
    if total == 0:
        return np.zeros((n_bootstrap, *np.shape(counts)), dtype=np.int64)
    draws = rng.multinomial(total, flat / total, size=n_bootstrap)
    return draws.reshape((n_bootstrap, *np.shape(counts)))


def block_codes(n: int, rng: np.random.Generator, *, max_blocks: int = DEFAULT_MAX_BLOCKS) -> tuple[
    NDArray[np.int64], int
]:
    """Assign ``n`` examples to ``min(n, max_blocks)`` blocks of (nearly) equal size at random."""
    g = max(1, min(n, max_blocks))
    if g == n:
        return np.arange(n, dtype=np.int64), g
    return rng.permutation(n) % g, g


def block_sums(
    codes: NDArray[np.int64], n_blocks: int, columns: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per-block sums of each column of ``columns`` (shape ``(n,)`` or ``(n, d)``) → ``(g, d)``."""
    cols = columns.reshape(len(codes), -1)
    out = np.empty((n_blocks, cols.shape[1]), dtype=np.float64)
    for j in range(cols.shape[1]):  # loop over a handful of columns, never over rows
        out[:, j] = np.bincount(codes, weights=cols[:, j], minlength=n_blocks)
    return out


def block_multiplicities(
    n_blocks: int, n_bootstrap: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """``(B, g)`` block multiplicities, each row ~ ``Multinomial(g, 1/g)``."""
    return rng.multinomial(n_blocks, np.full(n_blocks, 1.0 / n_blocks), size=n_bootstrap).astype(
        np.float64
    )


def percentile_bounds(
    samples: NDArray[np.float64], level: float, *, axis: int = 0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Percentile interval over the bootstrap axis, ignoring resamples where the metric is NaN.

    All-NaN columns give NaN bounds.
    """
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices -> NaN, on purpose
        lo = np.nanquantile(samples, alpha, axis=axis)
        hi = np.nanquantile(samples, 1.0 - alpha, axis=axis)
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
