"""Estimates for every count-based classification metric, from a confusion matrix alone.

Intervals:

* proportions (accuracy, the micro averages, per-class precision / recall / specificity, and the
  binary ``precision`` / ``recall`` / ``specificity``): Wilson score interval;
* everything else (macro / weighted averages, balanced accuracy, MCC, Cohen's kappa, per-class and
  binary F1): percentile bootstrap over the confusion-matrix cells — ``n_bootstrap`` matrices drawn
  from ``Multinomial(n, cm / n)`` and every metric computed on all of them at once
  (``assay.metrics._counts``). The cost does not depend on ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.metrics._catalog import metrics_for
from assay.metrics._counts import count_metrics
from assay.metrics._validation import label_key
from assay.stats._bootstrap import multinomial_count_resamples, percentile_bounds
from assay.stats._estimate import Estimate
from assay.stats._wilson import wilson_bounds

__all__ = ["BOOTSTRAP_SCALARS", "count_estimates"]

#: The scalar count metrics (every problem, not per class), from the catalogue, by interval method.
_SCALARS = [
    m
    for m in metrics_for("classification", sources=frozenset({"counts"}))
    if m.classes == "any" and not m.per_class
]
BOOTSTRAP_SCALARS = tuple(m.name for m in _SCALARS if m.interval == "bootstrap-counts")
_WILSON_SCALARS = tuple(m.name for m in _SCALARS if m.interval == "wilson")


def _est(value: float, lo: float, hi: float, level: float, method: str, n: int) -> Estimate:
    if math.isnan(value):
        return Estimate(math.nan, math.nan, math.nan, level, method, n)
    return Estimate(float(value), float(lo), float(hi), level, method, n)


def count_estimates(
    cm: NDArray[np.int64],
    labels: Sequence[Any],
    *,
    positive: int | None,
    level: float,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> tuple[dict[str, Estimate], list[str]]:
    """All count-based estimates of ``cm`` and the messages for the undefined ones.

    Args:
        cm: ``(k, k)`` confusion counts, rows = true, columns = predicted, in ``labels`` order.
        labels: the class labels.
        positive: index of the positive class for binary problems (adds ``precision``,
            ``recall``, ``f1``, ``specificity``), or ``None``.
        level: confidence level.
        n_bootstrap: number of count resamples (0: no bootstrap intervals).
        rng: random generator.

    Returns:
        ``(metrics, undefined_messages)``.
    """
    n = int(cm.sum())
    pt = count_metrics(cm)
    boot_method = "bootstrap-counts" if n_bootstrap > 0 else "none"
    if n_bootstrap > 0:
        bs = count_metrics(multinomial_count_resamples(cm, n_bootstrap, rng))
        bounds = {key: percentile_bounds(bs[key], level) for key in (*BOOTSTRAP_SCALARS, "f1_c")}
    else:
        nan = np.full(len(labels), np.nan)
        bounds = {key: (np.full((), np.nan), np.full((), np.nan)) for key in BOOTSTRAP_SCALARS}
        bounds["f1_c"] = (nan, nan)

    out: dict[str, Estimate] = {}
    lo, hi = wilson_bounds(pt["tp_c"].sum(), n, level=level)
    for key in _WILSON_SCALARS:
        out[key] = _est(float(pt[key]), float(lo), float(hi), level, "wilson", n)
    for key in BOOTSTRAP_SCALARS:
        b_lo, b_hi = bounds[key]
        out[key] = _est(float(pt[key]), float(b_lo), float(b_hi), level, boot_method, n)

    tp, sup, pred, tn = pt["tp_c"], pt["support_c"], pt["predicted_c"], pt["tn_c"]
    wil = {
        "precision": (pred, wilson_bounds(tp, pred, level=level)),
        "recall": (sup, wilson_bounds(tp, sup, level=level)),
        "specificity": (n - sup, wilson_bounds(tn, n - sup, level=level)),
    }
    f1_lo, f1_hi = bounds["f1_c"]
    messages: list[str] = []
    for c, label in enumerate(labels):
        name = f"per_class.{label_key(label)}"
        for metric, (denom, (w_lo, w_hi)) in wil.items():
            out[f"{name}.{metric}"] = _est(
                float(pt[f"{metric}_c"][c]), w_lo[c], w_hi[c], level, "wilson", int(denom[c])
            )
        out[f"{name}.f1"] = _est(float(pt["f1_c"][c]), f1_lo[c], f1_hi[c], level, boot_method, n)
        out[f"{name}.support"] = Estimate.point(float(sup[c]), n=n, level=level)
        if pred[c] == 0:
            messages.append(f"{name}.precision (class {label!r} is never predicted)")
        if sup[c] == 0:
            messages.append(f"{name}.recall (class {label!r} has no true examples)")
        if sup[c] == n:
            messages.append(f"{name}.specificity (every example is of class {label!r})")
        if sup[c] == 0 and pred[c] == 0:
            messages.append(f"{name}.f1 (class {label!r} is neither present nor predicted)")
    if positive is not None:
        key = f"per_class.{label_key(labels[positive])}"
        for metric in ("precision", "recall", "f1", "specificity"):
            out[metric] = out[f"{key}.{metric}"]
    for key in (*_WILSON_SCALARS, *BOOTSTRAP_SCALARS):
        if not out[key].defined:
            messages.append(f"{key} (zero denominator for these counts)")
    return out, messages
