"""``hashed_block_codes``: blocks from global row numbers, the same in any chunking or process."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps

from assay.errors import MetricError
from assay.stats import hashed_block_codes


def test_chunked_calls_equal_one_call() -> None:
    rows = np.arange(100_003, dtype=np.int64)
    whole = hashed_block_codes(rows, 997, seed=5)
    edges = [0, 1, 17, 5000, 5001, 77_777, 100_003]
    parts = [hashed_block_codes(rows[a:b], 997, seed=5) for a, b in itertools.pairwise(edges)]
    assert np.array_equal(np.concatenate(parts), whole)
    assert whole.dtype == np.int64


def test_same_codes_in_another_process() -> None:
    code = (
        "import numpy as np; from assay.stats import hashed_block_codes as h; "
        "print(h(np.arange(10, 30), 7, seed=123).tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(hashed_block_codes(np.arange(10, 30), 7, seed=123).tolist())


def test_blocks_are_near_uniform() -> None:
    codes = hashed_block_codes(np.arange(1_000_000), 1000, seed=0)
    counts = np.bincount(codes, minlength=1000)
    assert ((codes >= 0) & (codes < 1000)).all()
    # Multinomial(1e6, 1/1000): a chi-square goodness-of-fit test does not reject uniformity.
    assert sps.chisquare(counts).pvalue > 0.001
    assert counts.min() > 850 and counts.max() < 1150


def test_consecutive_rows_are_spread() -> None:
    # A block must not be a run of consecutive rows (a chunk would then be few blocks).
    codes = hashed_block_codes(np.arange(2000), 1000, seed=1)
    assert len(np.unique(codes[:1000])) > 550  # ~632 expected for random codes


def test_different_seeds_differ() -> None:
    rows = np.arange(10_000)
    a = hashed_block_codes(rows, 1000, seed=0)
    b = hashed_block_codes(rows, 1000, seed=1)
    assert np.mean(a == b) < 0.01
    assert np.array_equal(a, hashed_block_codes(rows, 1000, seed=0))


@pytest.mark.parametrize(
    ("rows", "n_blocks", "match"),
    [(np.array([3, -1]), 10, "non-negative"), (np.arange(3), 0, "n_blocks")],
)
def test_bad_input(rows: np.ndarray, n_blocks: int, match: str) -> None:
    with pytest.raises(MetricError, match=match):
        hashed_block_codes(rows, n_blocks, seed=0)
