"""Intervals for resampled estimates: the Nadeau–Bengio corrected resampled t interval.

Cross-validation folds share most of their training rows, so fold scores are positively
correlated and the naive ``s/√J`` standard error is too small. Nadeau and Bengio (2003) inflate the
variance of the mean of ``J`` resampled scores to ``(1/J + n_test/n_train)·s²`` and use a t
distribution with ``J − 1`` degrees of freedom.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import t as student_t

from assay.errors import MetricError
from assay.stats._estimate import Estimate
from assay.stats._wilson import check_level

__all__ = ["corrected_resampled_t"]


def corrected_resampled_t(
    scores: ArrayLike, *, n_train: float, n_test: float, level: float = 0.95
) -> Estimate:
    """The mean of ``J`` resampled scores with the Nadeau–Bengio corrected t interval.

    ``mean ± t(J−1) · sqrt((1/J + n_test/n_train) · s²)``, where ``s²`` is the sample variance of
    the scores (``ddof=1``).

    Args:
        scores: one score per fold (per fold and repeat for repeated cross-validation).
        n_train: rows used to fit each fold's model (the mean, when folds differ).
        n_test: rows each fold's model was scored on (the mean, when folds differ).
        level: confidence level.

    Returns:
        An Estimate with method ``"nadeau-bengio"``; ``n`` is the number of scores. With fewer than
        two finite scores the interval is NaN.

    Raises:
        MetricError: non-positive ``n_train``/``n_test`` or an invalid level.

    Example:
        >>> e = corrected_resampled_t([0.8, 0.82, 0.79, 0.81, 0.8], n_train=800, n_test=200)
        >>> round(e.value, 3), e.lower < 0.8 < e.upper
        (0.804, True)
    """
    level = check_level(level)
    if not (n_train > 0 and n_test > 0):
        raise MetricError(f"n_train and n_test must be positive; got {n_train!r}, {n_test!r}")
    x = np.asarray(scores, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    j = len(x)
    if j == 0:
        return Estimate(math.nan, math.nan, math.nan, level, "nadeau-bengio", 0)
    mean = float(x.mean())
    if j < 2:
        return Estimate(mean, math.nan, math.nan, level, "nadeau-bengio", j)
    var = float(x.var(ddof=1)) * (1.0 / j + n_test / n_train)
    half = float(student_t.ppf(0.5 + level / 2.0, j - 1)) * math.sqrt(var)
    return Estimate(mean, mean - half, mean + half, level, "nadeau-bengio", j)
