"""On data without drift, false alarms stay at or below the nominal level (simulation).

Reference and current are drawn from one distribution, 10 columns (5 numeric, tested by KS; 5
categorical, tested by chi-squared), 300 repetitions. Tolerance: the nominal level plus three
binomial standard errors of the simulated rate (``alpha + 3·sqrt(alpha(1-alpha)/N)``), so a
correct test fails this with probability about 0.1%.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assay.drift import detect_drift

ALPHA = 0.05
REPS = 300
N_COLS = 10


def _tolerance(n: int) -> float:
    return ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / n)


def _table(rng: np.random.Generator, n: int) -> pd.DataFrame:
    cols = {f"x{i}": rng.gamma(2.0 + i, size=n) for i in range(5)}
    for i in range(5):
        cols[f"c{i}"] = rng.choice(["a", "b", "c", "d"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    return pd.DataFrame(cols)


@pytest.mark.simulation
def test_false_alarm_rate_per_column_and_after_bh(seed: int) -> None:
    rng = np.random.default_rng(seed)
    raw_rejections = 0
    any_after_bh = 0
    any_uncorrected = 0
    for _ in range(REPS):
        r = detect_drift(_table(rng, 200), _table(rng, 150), correction="bh", n_jobs=1)
        assert {c.method for c in r.columns} == {"ks", "chi2"}
        raw = [c.p_value <= ALPHA for c in r.columns]
        raw_rejections += sum(raw)
        any_uncorrected += any(raw)
        any_after_bh += bool(r.drifted_columns)
    per_column = raw_rejections / (REPS * N_COLS)
    family = any_after_bh / REPS
    assert per_column <= _tolerance(REPS * N_COLS), per_column
    # under the global null, BH's false discovery rate is its family-wise error rate
    assert family <= _tolerance(REPS), family
    # and without the correction the family-wise rate would be far above it: the test can fail
    assert any_uncorrected / REPS > 2 * ALPHA
