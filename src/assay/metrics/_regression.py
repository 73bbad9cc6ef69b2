"""``regression_summary``: regression errors with bootstrap intervals.

Definitions (residual ``r_i = y_i - ŷ_i``):

* ``mse`` = mean r², ``rmse`` = sqrt(mse), ``mae`` = mean |r|, ``mean_residual`` = mean r
  (positive: the model under-predicts on average);
* ``mape`` = mean |r_i| / max(|y_i|, eps) with float64 eps (scikit-learn's definition; a fraction,
  not a percentage);
* ``r2`` = 1 - Σr² / Σ(y - ȳ)²; undefined (NaN) when y_true is constant;
* ``median_absolute_error`` = median |r|.

Intervals: percentile bootstrap over random blocks of examples (``assay.stats._bootstrap``; the
ordinary bootstrap up to ``MAX_BLOCKS`` examples). Each block is reduced to sums of
``(1, r², |r|, r, |r|/|y|, y, y²)`` so every mean-type metric and R² is exact per resample. The
median is resampled on ``|r|`` binned into ``MEDIAN_BINS`` quantile bins (linear interpolation in
the bin) and the resampled deviations are added to the exact median.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.errors import MetricError
from assay.metrics._catalog import metrics_for
from assay.metrics._function_metrics import function_estimates
from assay.metrics._validation import check_finite
from assay.stats._bootstrap import (
    block_codes,
    block_multiplicities,
    block_sums,
    percentile_bounds,
)
from assay.stats._estimate import Estimate
from assay.stats._policy import ZeroDivision, check_zero_division, report_undefined
from assay.stats._random import Seed, as_generator
from assay.stats._wilson import check_level

__all__ = ["RegressionSummary", "regression_summary"]

MAX_BLOCKS = 2000
MEDIAN_BINS = 256
SCATTER_POINTS = 500
QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)

F = NDArray[np.float64]


@dataclass(frozen=True)
class RegressionSummary:
    """Regression metrics with intervals plus JSON-ready tables.

    Attributes:
        metrics: ``rmse``, ``mae``, ``r2``, ``mse``, ``median_absolute_error``, ``mape``,
            ``mean_residual`` (and every catalogued regression metric with a function of its
            own) → ``Estimate``.
        tables: ``residual_quantiles`` ({"q", "value"}) and ``scatter`` ({"y_true", "y_pred"}).
        n: number of examples.
    """

    metrics: dict[str, Estimate]
    tables: dict[str, Any] = field(default_factory=dict)
    n: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``{"n", "metrics": {name: Estimate.to_dict()}, "tables"}``."""
        return {
            "n": self.n,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "tables": self.tables,
        }


def _from_sums(s: F) -> dict[str, F]:
    cnt, se, ae, re, ape, sy, syy = (s[..., i] for i in range(7))
    with np.errstate(invalid="ignore", divide="ignore"):
        mse = se / cnt
        sst = syy - sy * sy / cnt
        r2 = np.where(sst > 1e-12 * np.maximum(syy, 1e-300), 1.0 - se / sst, np.nan)
    return {
        "mse": mse,
        "rmse": np.sqrt(mse),
        "mae": ae / cnt,
        "mape": ape / cnt,
        "r2": r2,
        "mean_residual": re / cnt,
    }


def _binned_median(counts: F, edges: F) -> F:
    """Median of a histogram (``(..., bins)`` counts), interpolating linearly inside the bin."""
    cum = np.cumsum(counts, axis=-1)
    target = cum[..., -1:] / 2.0
    j = np.minimum((cum < target).sum(axis=-1), counts.shape[-1] - 1)
    before = np.take_along_axis(cum, j[..., None], -1)[..., 0] - np.take_along_axis(
        counts, j[..., None], -1
    )[..., 0]
    inbin = np.take_along_axis(counts, j[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip(np.where(inbin > 0, (target[..., 0] - before) / inbin, 0.5), 0.0, 1.0)
    return edges[j] + frac * (edges[j + 1] - edges[j])


def regression_summary(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: Seed = None,
    zero_division: ZeroDivision = "warn",
) -> RegressionSummary:
    """Regression errors, each with a bootstrap confidence interval.

    Args:
        y_true: true values, 1-D, finite.
        y_pred: predicted values, same length, finite.
        level: confidence level.
        n_bootstrap: bootstrap resamples (0 disables the intervals).
        seed: the bootstrap's randomness, a :data:`assay.stats.Seed` (an int, a generator, a
            ``SeedSequence`` or ``None``).
        zero_division: policy for ``r2`` on constant ``y_true``.

    Returns:
        ``RegressionSummary(metrics, tables, n)``; definitions in the module docstring.

    Raises:
        MetricError: on mismatched lengths, non-finite values (naming the first position),
            empty input, or an undefined ``r2`` with ``zero_division="raise"``.

    Example:
        >>> s = regression_summary([1.0, 2.0, 3.0], [1.5, 2.0, 2.5], seed=0)
        >>> round(s.metrics["mae"].value, 4)
        0.3333
    """
    check_level(level)
    policy = check_zero_division(zero_division)
    if not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 0:
        raise MetricError(f"n_bootstrap must be a non-negative int; got {n_bootstrap!r}")
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    if yt.ndim != 1 or yp.ndim != 1:
        raise MetricError(f"y_true and y_pred must be 1-D; got shapes {yt.shape} and {yp.shape}")
    if len(yt) != len(yp):
        raise MetricError(f"y_pred has {len(yp)} rows but y_true has {len(yt)}; they must match")
    n = len(yt)
    if n == 0:
        raise MetricError("y_true is empty; at least one example is needed")
    check_finite(yt, name="y_true")
    check_finite(yp, name="y_pred")
    rng = as_generator(seed)

    r = yt - yp
    ar = np.abs(r)
    cols = np.column_stack(
        [np.ones(n), r * r, ar, r, ar / np.maximum(np.abs(yt), np.finfo(np.float64).eps), yt,
         yt * yt]
    )
    exact = {key: float(v) for key, v in _from_sums(cols.sum(axis=0)).items()}
    # Centre the y columns before summing so that R² does not lose digits to cancellation.
    exact["r2"] = _r2_exact(yt, r)
    exact["median_absolute_error"] = float(np.median(ar))
    method = "bootstrap" if n_bootstrap > 0 else "none"
    bounds: dict[str, tuple[float, float]] = {k: (math.nan, math.nan) for k in exact}
    if n_bootstrap > 0:
        blocks, g = block_codes(n, rng, max_blocks=MAX_BLOCKS)
        shift = np.array([0, 0, 0, 0, 0, yt.mean(), 0.0])
        centred = cols - shift
        centred[:, 6] = (yt - yt.mean()) ** 2
        sums = block_sums(blocks, g, centred)
        edges = np.unique(np.quantile(ar, np.linspace(0.0, 1.0, MEDIAN_BINS + 1)))
        if len(edges) < 2:
            edges = np.array([edges[0], edges[0]])
        bins = np.clip(np.searchsorted(edges, ar, "right") - 1, 0, len(edges) - 2)
        hist = np.bincount(blocks * (len(edges) - 1) + bins, minlength=g * (len(edges) - 1))
        hist = hist.reshape(g, len(edges) - 1).astype(np.float64)
        w = block_multiplicities(g, n_bootstrap, rng)
        res = _from_sums(w @ sums)
        for key, samples in res.items():
            lo, hi = percentile_bounds(samples, level)
            bounds[key] = (float(lo), float(hi))
        med = _binned_median(w @ hist, edges) - _binned_median(hist.sum(axis=0), edges)
        lo, hi = percentile_bounds(exact["median_absolute_error"] + med, level)
        bounds["median_absolute_error"] = (max(float(lo), 0.0), float(hi))
    metrics: dict[str, Estimate] = {}
    for key in (m.name for m in metrics_for("regression", sources=frozenset({"regression"}))):
        val = exact[key]
        b_lo, b_hi = bounds[key] if not math.isnan(val) else (math.nan, math.nan)
        metrics[key] = Estimate(val, b_lo, b_hi, level, method, n)
    # Last, so that the bootstrap above draws the same random numbers as without them.
    metrics.update(
        function_estimates(
            "regression", yt, yp, level=level, n_bootstrap=int(n_bootstrap), rng=rng
        )
    )
    if math.isnan(exact["r2"]):
        report_undefined(["r2 (y_true is constant, so its variance is 0)"], policy)

    order = np.argsort(yt, kind="stable")
    keep = order[np.unique(np.linspace(0, n - 1, min(n, SCATTER_POINTS)).round().astype(np.intp))]
    tables = {
        "residual_quantiles": {
            "q": list(QUANTILES),
            "value": np.quantile(r, QUANTILES).tolist(),
        },
        "scatter": {"y_true": yt[keep].tolist(), "y_pred": yp[keep].tolist()},
    }
    return RegressionSummary(metrics, tables, n)


def _r2_exact(yt: F, r: F) -> float:
    sst = float(((yt - yt.mean()) ** 2).sum())
    if sst <= 0.0:
        return math.nan
    return 1.0 - float((r * r).sum()) / sst
