"""Probabilistic metrics: log loss, Brier score, expected calibration error (ECE).

Definitions (``p_i`` the probability row of example ``i``, ``y_i`` its class index):

* log loss = ``-(1/n) Σ_i log p_i[y_i]``, with ``p`` clipped to ``[eps, 1]`` (float64 eps) so that a
  zero probability on the true class gives a large finite loss;
* Brier (multiclass) = ``(1/n) Σ_i Σ_c (p_i[c] - 1[y_i = c])²``, the squared distance to the
  one-hot label (range ``[0, 2]``); Brier (binary) = ``(1/n) Σ_i (p_i[pos] - 1[y_i = pos])²``, the
  score of the positive class only (scikit-learn's ``brier_score_loss``; range ``[0, 1]``, half
  the multiclass form);
* ECE = ``Σ_b (n_b / n) |acc_b - conf_b|`` over ``n_bins`` equal-width bins of the top-class
  confidence ``max_c p_i[c]``; bins are right-closed ``(lo, hi]`` (the first also holds 0);
  ``acc_b`` is the fraction of the bin whose top class (``argmax``, first on ties) is the truth;
* equal-mass ECE: the same sum over ``n_bins`` bins holding (nearly) equal numbers of examples,
  taken in order of confidence (ties in row order): bin ``b`` holds sorted ranks
  ``[⌊b·n/B⌋, ⌊(b+1)·n/B⌋)``;
* classwise ECE (Kull et al. 2019): the mean over classes ``c`` of
  ``Σ_b (n_b / n) |mean 1[y = c] − mean p[c]|`` over equal-width bins of ``p[c]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.metrics._ranking import to_json_list

__all__ = [
    "classwise_ece",
    "ece",
    "ece_bins",
    "ece_from_sums",
    "equal_mass_bins",
    "equal_width_bins",
    "per_example_brier",
    "per_example_log_loss",
    "reliability_table",
]

F = NDArray[np.float64]
Idx = NDArray[np.intp]


def per_example_log_loss(proba: F, codes: Idx) -> F:
    """``-log p_i[y_i]`` with the probability clipped below at float64 eps."""
    p_true = proba[np.arange(len(codes)), codes]
    return -np.log(np.clip(p_true, np.finfo(np.float64).eps, 1.0))


def per_example_brier(proba: F, codes: Idx, *, positive: int | None) -> F:
    """Squared error of the positive class (binary) or of the whole vector (multiclass)."""
    rows = np.arange(len(codes))
    if positive is not None:
        return (proba[:, positive] - (codes == positive)) ** 2
    p_true = proba[rows, codes]
    # Σ_c (p_c - 1[c=y])² = Σ_c p_c² - 2 p_y + 1, without building the one-hot matrix.
    return np.einsum("ij,ij->i", proba, proba) - 2.0 * p_true + 1.0


def ece_bins(proba: F, codes: Idx, n_bins: int) -> tuple[Idx, F, F]:
    """Bin index, confidence and correctness of every example (for ECE and its bootstrap)."""
    top = proba.argmax(axis=1)
    conf = proba[np.arange(len(codes)), top]
    return equal_width_bins(conf, n_bins), conf, (top == codes).astype(np.float64)


def ece_from_sums(count: F, conf_sum: F, correct_sum: F) -> F:
    """ECE from per-bin sums, shape ``(..., n_bins)``: ``Σ_b |Σconf_b - Σcorrect_b| / n``."""
    n = count.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(conf_sum - correct_sum).sum(axis=-1) / n


def reliability_table(count: F, conf_sum: F, correct_sum: F) -> dict[str, list[Any]]:
    """The reliability table (JSON-ready) of equal-width confidence bins, from each bin's count,
    sum of confidences and number correct."""
    n_bins = len(count)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = conf_sum / count
        acc = correct_sum / count
    edges = np.arange(n_bins + 1) / n_bins
    return {
        "bin_lower": edges[:-1].tolist(),
        "bin_upper": edges[1:].tolist(),
        "mean_confidence": to_json_list(mean_conf),
        "accuracy": to_json_list(acc),
        "count": [int(x) for x in count],
    }


def equal_width_bins(conf: F, n_bins: int) -> Idx:
    """Bin index of each confidence in ``n_bins`` right-closed equal-width bins of [0, 1]."""
    return np.clip(np.ceil(conf * n_bins).astype(np.intp) - 1, 0, n_bins - 1)


def equal_mass_bins(conf: F, n_bins: int) -> Idx:
    """Bin index of each confidence in ``n_bins`` bins of (nearly) equal counts, by rank."""
    n = len(conf)
    rank = np.empty(n, dtype=np.intp)
    rank[np.argsort(conf, kind="stable")] = np.arange(n)
    return np.minimum((rank * n_bins) // max(n, 1), n_bins - 1).astype(np.intp)


def ece(proba: F, codes: Idx, *, n_bins: int = 10, binning: str = "width") -> float:
    """ECE of the top-class confidence with equal-width (``width``) or equal-mass (``mass``)
    bins; NaN for no rows."""
    if len(codes) == 0:
        return float("nan")
    top = proba.argmax(axis=1)
    conf = proba[np.arange(len(codes)), top]
    b = equal_width_bins(conf, n_bins) if binning == "width" else equal_mass_bins(conf, n_bins)
    correct = (top == codes).astype(np.float64)
    return float(
        ece_from_sums(
            np.bincount(b, minlength=n_bins).astype(np.float64),
            np.bincount(b, weights=conf, minlength=n_bins).astype(np.float64),
            np.bincount(b, weights=correct, minlength=n_bins).astype(np.float64),
        )
    )


def classwise_ece(proba: F, codes: Idx, *, n_bins: int = 10) -> float:
    """The mean over classes of the one-vs-rest ECE of ``p[c]`` (equal-width bins)."""
    if len(codes) == 0:
        return float("nan")
    total = 0.0
    for c in range(proba.shape[1]):
        p = proba[:, c]
        b = equal_width_bins(p, n_bins)
        total += float(
            ece_from_sums(
                np.bincount(b, minlength=n_bins).astype(np.float64),
                np.bincount(b, weights=p, minlength=n_bins).astype(np.float64),
                np.bincount(b, weights=(codes == c).astype(np.float64), minlength=n_bins).astype(
                    np.float64
                ),
            )
        )
    return total / proba.shape[1]
