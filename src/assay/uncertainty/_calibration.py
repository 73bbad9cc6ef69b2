"""Calibration: do the probabilities mean what they say? And what would temperature scaling buy?

* ECE (equal-width and equal-mass bins) and classwise ECE: :mod:`assay.metrics._calibration`
  holds their definitions (one home for each metric); this module reports them together.
* Brier decomposition (Murphy 1973), per class one-vs-rest over equal-width bins of ``p[c]`` and
  summed over classes (binary: the positive class only, as the binary Brier score):
  ``reliability = Σ_b (n_b/n)(f̄_b − ō_b)²``, ``resolution = Σ_b (n_b/n)(ō_b − ō)²``,
  ``uncertainty = ō(1 − ō)``; ``brier ≈ reliability − resolution + uncertainty``, exactly when
  the forecasts are constant inside each bin (the gap is reported as ``within_bin``).
* Reliability diagram: per equal-width bin of the top-class confidence, its n, mean confidence,
  and accuracy with a Wilson interval.
* Temperature scaling (Guo et al. 2017): ``softmax(log p / T)`` with the ``T`` that minimises the
  log loss on the calibration rows (bounded search over ``log T ∈ [−3, 3]``), then every metric
  again on the test rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar

from assay.metrics._calibration import (
    classwise_ece,
    ece,
    equal_width_bins,
    per_example_brier,
    per_example_log_loss,
)
from assay.stats import Estimate, wilson_interval

__all__ = [
    "BrierDecomposition",
    "CalibrationReport",
    "apply_temperature",
    "brier_decomposition",
    "calibration_estimates",
    "calibration_report",
    "fit_temperature",
    "reliability_bins",
]

F = NDArray[np.float64]
Idx = NDArray[np.intp]
_TINY = np.finfo(np.float64).tiny


@dataclass(frozen=True)
class BrierDecomposition:
    """``brier ≈ reliability − resolution + uncertainty`` (``within_bin`` is the remainder)."""

    brier: float
    reliability: float
    resolution: float
    uncertainty: float

    @property
    def within_bin(self) -> float:
        return self.brier - (self.reliability - self.resolution + self.uncertainty)


def brier_decomposition(
    proba: F, codes: Idx, *, positive: int | None = None, n_bins: int = 10
) -> BrierDecomposition:
    """Murphy's decomposition of the Brier score (binary: of ``positive``; else summed over
    classes, as the multiclass Brier score sums them)."""
    n = len(codes)
    classes = [positive] if positive is not None else list(range(proba.shape[1]))
    rel = res = unc = 0.0
    for c in classes:
        f = proba[:, c]
        o = (codes == c).astype(np.float64)
        b = equal_width_bins(f, n_bins)
        nb = np.bincount(b, minlength=n_bins).astype(np.float64)
        used = nb > 0
        fbar = np.bincount(b, weights=f, minlength=n_bins)[used] / nb[used]
        obar = np.bincount(b, weights=o, minlength=n_bins)[used] / nb[used]
        base = o.mean()
        rel += float((nb[used] * (fbar - obar) ** 2).sum() / n)
        res += float((nb[used] * (obar - base) ** 2).sum() / n)
        unc += float(base * (1 - base))
    brier = float(per_example_brier(proba, codes, positive=positive).mean())
    return BrierDecomposition(brier, rel, res, unc)


def reliability_bins(
    proba: F, codes: Idx, *, n_bins: int = 10, level: float = 0.95
) -> list[dict[str, Any]]:
    """The reliability diagram: per non-empty equal-width bin of the top-class confidence,
    ``{"lo", "hi", "n", "confidence", "accuracy", "accuracy_lower", "accuracy_upper"}``."""
    top = proba.argmax(axis=1)
    conf = proba[np.arange(len(codes)), top]
    correct = top == codes
    b = equal_width_bins(conf, n_bins)
    rows = []
    for i in range(n_bins):
        sel = b == i
        k = int(sel.sum())
        if not k:
            continue
        acc = wilson_interval(int(correct[sel].sum()), k, level=level)
        rows.append(
            {
                "lo": i / n_bins,
                "hi": (i + 1) / n_bins,
                "n": k,
                "confidence": float(conf[sel].mean()),
                "accuracy": acc.value,
                "accuracy_lower": acc.lower,
                "accuracy_upper": acc.upper,
            }
        )
    return rows


def apply_temperature(proba: F, temperature: float) -> F:
    """``softmax(log p / T)``, row-wise (zero probabilities stay zero)."""
    logits = np.log(np.maximum(proba, _TINY)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(proba: F, codes: Idx) -> float:
    """The temperature minimising the mean log loss of ``apply_temperature(proba, T)``."""

    def nll(log_t: float) -> float:
        return float(per_example_log_loss(apply_temperature(proba, math.exp(log_t)), codes).mean())

    res = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded", options={"xatol": 1e-5})
    return float(math.exp(res.x))


@dataclass(frozen=True)
class CalibrationReport:
    """Calibration metrics of one set of probabilities (point values; ``n`` rows)."""

    n: int
    ece: float
    ece_equal_mass: float
    classwise_ece: float
    log_loss: float
    brier: BrierDecomposition
    bins: list[dict[str, Any]]

    def metrics(self) -> dict[str, float]:
        return {
            "ece": self.ece,
            "ece_equal_mass": self.ece_equal_mass,
            "classwise_ece": self.classwise_ece,
            "log_loss": self.log_loss,
            "brier": self.brier.brier,
            "brier_reliability": self.brier.reliability,
            "brier_resolution": self.brier.resolution,
            "brier_uncertainty": self.brier.uncertainty,
        }


def calibration_report(
    proba: F, codes: Idx, *, positive: int | None = None, n_bins: int = 10, level: float = 0.95
) -> CalibrationReport:
    """Every calibration metric of ``proba`` against the true classes ``codes``."""
    return CalibrationReport(
        n=len(codes),
        ece=ece(proba, codes, n_bins=n_bins, binning="width"),
        ece_equal_mass=ece(proba, codes, n_bins=n_bins, binning="mass"),
        classwise_ece=classwise_ece(proba, codes, n_bins=n_bins),
        log_loss=float(per_example_log_loss(proba, codes).mean()),
        brier=brier_decomposition(proba, codes, positive=positive, n_bins=n_bins),
        bins=reliability_bins(proba, codes, n_bins=n_bins, level=level),
    )


def _point_metrics(proba: F, codes: Idx, positive: int | None, n_bins: int) -> dict[str, float]:
    return {
        "ece": ece(proba, codes, n_bins=n_bins, binning="width"),
        "ece_equal_mass": ece(proba, codes, n_bins=n_bins, binning="mass"),
        "classwise_ece": classwise_ece(proba, codes, n_bins=n_bins),
        "brier": float(per_example_brier(proba, codes, positive=positive).mean()),
        "log_loss": float(per_example_log_loss(proba, codes).mean()),
    }


def calibration_estimates(
    proba: F,
    codes: Idx,
    *,
    positive: int | None = None,
    n_bins: int = 10,
    n_bootstrap: int = 200,
    random_state: np.random.Generator,
    level: float = 0.95,
) -> dict[str, Estimate]:
    """ECE (both binnings), classwise ECE, Brier and log loss, each with a percentile bootstrap
    interval over rows (``n_bootstrap`` resamples; the bins are re-formed in each)."""
    n = len(codes)
    point = _point_metrics(proba, codes, positive, n_bins)
    if n < 2:
        return {k: Estimate.point(v, n=n, level=level) for k, v in point.items()}
    draws = {k: np.empty(n_bootstrap) for k in point}
    for b in range(n_bootstrap):
        idx = random_state.integers(0, n, size=n)
        for k, v in _point_metrics(proba[idx], codes[idx], positive, n_bins).items():
            draws[k][b] = v
    tail = (1 - level) / 2 * 100
    out = {}
    for k, v in point.items():
        lo, hi = np.percentile(draws[k], [tail, 100 - tail])
        out[k] = Estimate(v, float(lo), float(hi), level, "bootstrap", n)
    return out
