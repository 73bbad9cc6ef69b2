"""Estimates of the catalogued metrics that have a function of their own.

The summaries (``classification_summary``, ``regression_summary``) call
:func:`function_estimates` after their group computations, so a metric added to the catalogue with
its function is reported with its interval by the performance check without touching a summary.

Intervals: a per-example metric (the mean of per-example scores) gets the catalogued method:
``wilson`` for 0/1 scores, ``bootstrap`` for a percentile bootstrap over random blocks of examples
(``assay.stats._bootstrap``; the ordinary bootstrap up to ``MAX_BLOCKS`` examples). A metric that
is not a mean of per-example scores is reported without an interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.errors import MetricError
from assay.metrics._catalog import MetricInfo, metrics_for
from assay.stats._bootstrap import (
    block_codes,
    block_multiplicities,
    block_sums,
    percentile_bounds,
)
from assay.stats._estimate import Estimate
from assay.stats._wilson import wilson_interval

__all__ = ["MAX_BLOCKS", "function_estimates", "scores_estimate"]

MAX_BLOCKS = 2000
_FUNCTION = frozenset({"function"})


def scores_estimate(
    info: MetricInfo,
    scores: NDArray[np.float64],
    *,
    level: float,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> Estimate:
    """The mean of per-example ``scores`` with the interval ``info.interval`` names.

    Raises:
        MetricError: a ``wilson`` metric whose scores are not all 0 or 1, or an interval method
            that per-example scores cannot give.
    """
    s = np.asarray(scores, dtype=np.float64)
    n = len(s)
    if n == 0 or not np.isfinite(s).all():
        return Estimate(math.nan, math.nan, math.nan, level, info.interval, n)
    if info.interval == "wilson":
        if not np.isin(s, (0.0, 1.0)).all():
            raise MetricError(f"{info.name}: a Wilson interval needs 0/1 scores per example")
        return wilson_interval(int(s.sum()), n, level=level)
    if info.interval != "bootstrap":
        raise MetricError(
            f"{info.name}: per-example scores give a 'wilson' or 'bootstrap' interval, "
            f"not {info.interval!r}; fix its catalogue entry"
        )
    value = float(s.mean())
    if n_bootstrap <= 0:
        return Estimate(value, math.nan, math.nan, level, "none", n)
    blocks, g = block_codes(n, rng, max_blocks=MAX_BLOCKS)
    sums = block_sums(blocks, g, np.column_stack([np.ones(n), s]))
    res = block_multiplicities(g, n_bootstrap, rng) @ sums
    lo, hi = percentile_bounds(res[:, 1] / res[:, 0], level)
    return Estimate(value, float(lo), float(hi), level, "bootstrap", n)


def function_estimates(
    task: str,
    y_true: Any,
    y_pred: Any,
    *,
    labels: Sequence[Any] | None = None,
    proba: NDArray[np.float64] | None = None,
    level: float,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, Estimate]:
    """Every catalogued function metric of ``task`` that applies, with its interval.

    Args:
        task: ``classification`` or ``regression``.
        y_true: true labels (classification, values in ``labels``) or values.
        y_pred: predicted labels or values.
        labels: classification: the class labels (the columns of ``proba``).
        proba: classification: ``(n, k)`` probabilities, or ``None``.
        level: confidence level.
        n_bootstrap: bootstrap resamples (0: no bootstrap intervals).
        rng: random generator (drawn from only by bootstrap intervals).

    Returns:
        Metric name → ``Estimate``, in catalogue order.
    """
    out: dict[str, Estimate] = {}
    n = len(y_true)
    for info in metrics_for(task, sources=_FUNCTION):
        if info.function is None:
            continue
        kwargs: dict[str, Any] = dict(info.options)
        second = y_pred
        if task == "classification":
            assert labels is not None
            if not info.applies_to(len(labels), proba=proba is not None):
                continue
            kwargs["labels"] = labels
            second = proba if info.needs_proba else y_pred
        result = info.function(y_true, second, **kwargs)
        if info.per_example:
            scores = np.asarray(result, dtype=np.float64)
            out[info.name] = scores_estimate(
                info, scores, level=level, n_bootstrap=n_bootstrap, rng=rng
            )
        else:
            out[info.name] = Estimate.point(float(result), n=n, level=level)
    return out
