"""Estimates for the probability-based classification metrics and their tables.

Intervals:

* ROC-AUC: DeLong (binary) and DeLong influences combined over the binary AUCs (multiclass OVR and
  OVO averages), logit-transformed — see ``assay.metrics._ranking``;
* log loss, Brier, ECE, average precision: percentile bootstrap over random blocks of examples
  (``assay.stats._bootstrap``; the ordinary bootstrap up to ``max_blocks`` examples). Each block is
  reduced to sums (losses; per-bin confidence / correctness; per-score-bin positive and negative
  counts) and all resamples are one matrix product. Average precision is resampled on scores
  binned into ``AP_BINS`` quantile bins and the resampled deviations from the binned value are
  added to the exact value (so the interval is centred on the exact AP).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.errors import MetricError
from assay.metrics._calibration import (
    ece_bins,
    ece_from_sums,
    per_example_brier,
    per_example_log_loss,
    reliability_table,
)
from assay.metrics._counts import nan_mean
from assay.metrics._ranking import (
    AucInfluence,
    OwnClass,
    SortedColumn,
    average_precision_binned,
    average_precision_exact,
    binned_codes,
    curve_tables,
    curves_by_class,
    ovr_influence,
)
from assay.metrics._validation import check_finite
from assay.stats._bootstrap import block_codes, block_multiplicities, percentile_bounds
from assay.stats._delong import logit_auc_bounds
from assay.stats._estimate import Estimate

__all__ = ["AP_BINS", "MAX_BLOCKS", "check_proba", "proba_estimates"]

AP_BINS = 50
MAX_BLOCKS = 1000
_ROW_SUM_TOL = 1e-4

F = NDArray[np.float64]
Idx = NDArray[np.intp]


def check_proba(proba: Any, n: int, k: int) -> F:
    """Validate an ``(n, k)`` probability matrix (finite, in [0, 1], rows summing to 1)."""
    p = np.asarray(proba, dtype=np.float64)
    if p.shape != (n, k):
        raise MetricError(
            f"proba must have shape (n_examples, n_labels) = ({n}, {k}); got {p.shape}; "
            "columns must follow the order of labels"
        )
    check_finite(p, name="proba")
    bad = np.flatnonzero((p < 0).any(axis=1) | (p > 1).any(axis=1))
    if len(bad):
        raise MetricError(f"proba[{int(bad[0])}] has values outside [0, 1]: {p[bad[0]].tolist()}")
    sums = p.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _ROW_SUM_TOL)
    if len(bad):
        i = int(bad[0])
        raise MetricError(
            f"proba[{i}] sums to {sums[i]!r}, not 1 (tolerance {_ROW_SUM_TOL}); "
            "pass normalised probabilities (e.g. a softmax), one column per label"
        )
    return p


def proba_estimates(
    proba: F,
    codes: Idx,
    labels: Sequence[Any],
    *,
    positive: int | None,
    level: float,
    n_bootstrap: int,
    rng: np.random.Generator,
    curve_points: int,
    n_bins: int,
) -> tuple[dict[str, Estimate], dict[str, Any], list[str]]:
    """Probability-based estimates, the curve / reliability tables and undefined messages."""
    n, k = proba.shape
    binary = positive is not None
    out: dict[str, Estimate] = {}
    tables: dict[str, Any] = {}
    messages: list[str] = []
    boot = "bootstrap" if n_bootstrap > 0 else "none"

    # ---- ranking: one sort per score column, everything read off it, one column at a time ----
    blocks, g = block_codes(n, rng, max_blocks=MAX_BLOCKS)
    score_cols: list[int] = [positive] if positive is not None else list(range(k))
    counts = np.bincount(codes, minlength=k).astype(np.int64)
    multi = None if binary else AucInfluence(counts)
    ap_exact = np.empty(len(score_cols))
    ap_stats = []
    curve_list = []
    small_codes = codes.astype(np.min_scalar_type(-max(k, 1)))
    for i, cls in enumerate(score_cols):
        col = SortedColumn.build(proba[:, cls], small_codes)
        own = OwnClass.build(col, cls)
        if multi is None:
            # The binary AUC is the one-vs-rest AUC of `positive`, with DeLong's variance.
            auc, infl = ovr_influence(col, own)
            if math.isnan(auc):
                messages.append("roc_auc (y_true contains a single class)")
                out["roc_auc"] = Estimate(math.nan, math.nan, math.nan, level, "delong", n)
            else:
                assert infl is not None
                lo, hi = logit_auc_bounds(auc, float(infl @ infl), level)
                out["roc_auc"] = Estimate(auc, lo, hi, level, "delong", n)
        else:
            multi.add(col, own)
        desc = own.descending()
        ap_exact[i] = average_precision_exact(own, desc)
        ap_stats.append(
            np.bincount(
                (blocks * AP_BINS + binned_codes(col, AP_BINS)) * 2 + (codes == cls),
                minlength=g * AP_BINS * 2,
            ).reshape(g, 2 * AP_BINS)
        )
        curve_list.append(curve_tables(col, own, curve_points, desc))
        del col, own, desc

    if multi is not None:
        aucs, psi_m, psi_w = multi.ovr()
        for c in np.flatnonzero(np.isnan(aucs)):
            messages.append(
                f"roc_auc_ovr for class {labels[int(c)]!r} (it is absent or is every example)"
            )
        macro = float(nan_mean(aucs))
        ok = ~np.isnan(aucs)
        support = counts.astype(np.float64)
        weighted = (
            float((aucs[ok] * support[ok]).sum() / support[ok].sum()) if ok.any() else math.nan
        )
        for key, val, psi in (
            ("roc_auc_ovr_macro", macro, psi_m),
            ("roc_auc_ovr_weighted", weighted, psi_w),
        ):
            lo, hi = logit_auc_bounds(val, float(psi @ psi), level)
            out[key] = Estimate(val, lo, hi, level, "delong-influence", n)
        o_macro, o_weighted, po_m, po_w, undefined = multi.ovo()
        for a, b in undefined:
            messages.append(f"roc_auc_ovo pair ({labels[a]!r}, {labels[b]!r}) (a class is absent)")
        for key, val, psi in (
            ("roc_auc_ovo_macro", o_macro, po_m),
            ("roc_auc_ovo_weighted", o_weighted, po_w),
        ):
            lo, hi = logit_auc_bounds(val, float(psi @ psi), level)
            out[key] = Estimate(val, lo, hi, level, "delong-influence", n)

    # ---- per-example quantities --------------------------------------------------------------
    ll = per_example_log_loss(proba, codes)
    br = per_example_brier(proba, codes, positive=positive)
    ebin, conf, correct = ece_bins(proba, codes, n_bins)

    # ---- block bootstrap: per-block sums, all resamples in one matrix product -----------------
    ap_cls = score_cols
    ece_key = blocks * n_bins + ebin
    stats = np.hstack(
        [
            np.bincount(blocks, minlength=g)[:, None],
            np.bincount(blocks, weights=ll, minlength=g)[:, None],
            np.bincount(blocks, weights=br, minlength=g)[:, None],
            np.bincount(ece_key, minlength=g * n_bins).reshape(g, n_bins),
            np.bincount(ece_key, weights=conf, minlength=g * n_bins).reshape(g, n_bins),
            np.bincount(ece_key, weights=correct, minlength=g * n_bins).reshape(g, n_bins),
            *ap_stats,
        ]
    ).astype(np.float64)
    total = stats.sum(axis=0)
    resampled = block_multiplicities(g, n_bootstrap, rng) @ stats if n_bootstrap > 0 else None

    def split(r: F) -> dict[str, F]:
        cnt = r[..., 0]
        nb = n_bins
        e0 = 3
        ap_parts = r[..., e0 + 3 * nb :].reshape(*r.shape[:-1], len(score_cols), AP_BINS, 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            return {
                "log_loss": r[..., 1] / cnt,
                "brier": r[..., 2] / cnt,
                "ece": ece_from_sums(
                    r[..., e0 : e0 + nb],
                    r[..., e0 + nb : e0 + 2 * nb],
                    r[..., e0 + 2 * nb : e0 + 3 * nb],
                ),
                "ap": average_precision_binned(ap_parts[..., 1], ap_parts[..., 0]),
            }

    point = split(total)
    exact = {"log_loss": float(ll.mean()), "brier": float(br.mean()), "ece": float(point["ece"])}
    if resampled is not None:
        res = split(resampled)
        for key in ("log_loss", "brier", "ece"):
            lo_, hi_ = percentile_bounds(res[key], level)
            out[key] = Estimate(exact[key], float(lo_), float(hi_), level, boot, n)
        ap_dev = res["ap"] - point["ap"]  # (B, c)
        ap_res = np.clip(ap_exact + ap_dev, 0.0, 1.0)
    else:
        for key in ("log_loss", "brier", "ece"):
            out[key] = Estimate(exact[key], math.nan, math.nan, level, boot, n)
        ap_res = np.full((1, len(score_cols)), np.nan)
    if binary:
        ap_val, ap_samples = float(ap_exact[0]), ap_res[:, 0]
        name = "average_precision"
    else:
        ap_val, ap_samples = float(nan_mean(ap_exact)), nan_mean(ap_res)
        name = "average_precision_macro"
    for c in np.flatnonzero(np.isnan(ap_exact)):
        messages.append(f"average precision of class {labels[ap_cls[c]]!r} (no true examples)")
    lo_, hi_ = percentile_bounds(ap_samples, level)
    out[name] = (
        Estimate(ap_val, float(lo_), float(hi_), level, boot, n)
        if not math.isnan(ap_val)
        else Estimate(math.nan, math.nan, math.nan, level, boot, n)
    )

    # ---- tables --------------------------------------------------------------------------------
    tables.update(curves_by_class(curve_list, list(labels), binary=binary))
    e0 = 3
    tables["reliability"] = reliability_table(
        total[e0 : e0 + n_bins],
        total[e0 + n_bins : e0 + 2 * n_bins],
        total[e0 + 2 * n_bins : e0 + 3 * n_bins],
    )
    return out, tables, messages
