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

Streamed data (statistics reduced chunk by chunk, possibly in other processes) cannot draw a
random permutation of all rows; :func:`hashed_block_codes` gives each row its block from its global
row number and a seed alone (a splitmix64 hash), so every process assigns the same blocks.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

from assay.errors import MetricError

__all__ = [
    "DEFAULT_MAX_BLOCKS",
    "block_codes",
    "block_multiplicities",
    "block_sums",
    "hashed_block_codes",
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


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The splitmix64 finaliser of ``x + golden`` (wrapping uint64 arithmetic), elementwise."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    out: NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out


def hashed_block_codes(rows: NDArray[np.int64], n_blocks: int, seed: int) -> NDArray[np.int64]:
    """The bootstrap block of each row, from its global 0-based row number and ``seed`` alone.

    ``splitmix64(row XOR splitmix64(seed)) mod n_blocks``: the same rows and seed give the same
    codes in any process and whatever the chunking (a chunk of rows ``[a, b)`` passes
    ``np.arange(a, b)``), and the blocks are near-uniform (a 64-bit mixing hash; the modulo bias is
    below ``n_blocks / 2**64``).

    Args:
        rows: global 0-based row numbers (non-negative integers).
        n_blocks: the number of blocks, at least 1.
        seed: an int; another seed gives an unrelated assignment.

    Returns:
        ``int64`` codes in ``range(n_blocks)``, one per row.

    Raises:
        MetricError: a negative row number or ``n_blocks < 1``.

    Example:
        >>> codes = hashed_block_codes(np.arange(5), 3, seed=0)
        >>> bool(((codes >= 0) & (codes < 3)).all())
        True
    """
    if not isinstance(n_blocks, (int, np.integer)) or n_blocks < 1:
        raise MetricError(f"n_blocks must be an int >= 1; got {n_blocks!r}")
    r = np.asarray(rows)
    if r.size and int(r.min()) < 0:
        raise MetricError(f"rows must be non-negative row numbers; got {int(r.min())}")
    key = _splitmix64(np.array([int(seed) % (1 << 64)], dtype=np.uint64))[0]
    h = _splitmix64(r.astype(np.uint64) ^ key)
    codes: NDArray[np.int64] = (h % np.uint64(n_blocks)).astype(np.int64)
    return codes


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
