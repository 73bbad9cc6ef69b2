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
)
from assay.metrics._counts import nan_mean
from assay.metrics._ranking import (
    SortedColumn,
    average_precision_binned,
    average_precision_exact,
    binned_codes,
    downsample_curve,
    ovo_auc,
    ovr_auc,
    pr_curve,
    roc_curve,
    to_json_list,
)
from assay.metrics._validation import check_finite, label_key
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

    # ---- ranking: one sort per score column ------------------------------------------------
    score_cols = [positive] if binary else list(range(k))
    cols = [SortedColumn.build(proba[:, c], codes) for c in score_cols]
    if binary:
        assert positive is not None  # narrowing for mypy; guaranteed by `binary`
        # OVR with one column and class `positive` is exactly the binary AUC with DeLong variance.
        aucs, _, psi, _ = ovr_auc([_relabel(cols[0], positive)], 1, n)
        auc = float(aucs[0])
        if math.isnan(auc):
            messages.append("roc_auc (y_true contains a single class)")
        lo, hi = logit_auc_bounds(auc, float(psi @ psi), level)
        out["roc_auc"] = Estimate(auc, lo, hi, level, "delong", n) if not math.isnan(auc) else (
            Estimate(math.nan, math.nan, math.nan, level, "delong", n)
        )
    else:
        aucs, support, psi_m, psi_w = ovr_auc(cols, k, n)
        for c in np.flatnonzero(np.isnan(aucs)):
            messages.append(
                f"roc_auc_ovr for class {labels[int(c)]!r} (it is absent or is every example)"
            )
        macro = float(nan_mean(aucs))
        ok = ~np.isnan(aucs)
        weighted = (
            float((aucs[ok] * support[ok]).sum() / support[ok].sum()) if ok.any() else math.nan
        )
        for key, val, psi in (
            ("roc_auc_ovr_macro", macro, psi_m),
            ("roc_auc_ovr_weighted", weighted, psi_w),
        ):
            lo, hi = logit_auc_bounds(val, float(psi @ psi), level)
            out[key] = Estimate(val, lo, hi, level, "delong-influence", n)
        o_macro, o_weighted, po_m, po_w, undefined = ovo_auc(cols, k, n)
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
    ap_exact = np.array(
        [
            average_precision_exact(col, col.classes == (positive if binary else c))
            for c, col in enumerate(cols)
        ]
    )

    # ---- block bootstrap: per-block sums, all resamples in one matrix product -----------------
    blocks, g = block_codes(n, rng, max_blocks=MAX_BLOCKS)
    ap_cls = [positive] if binary else list(range(k))
    ap_stats = [
        np.bincount(
            (blocks * AP_BINS + binned_codes(col, AP_BINS)) * 2 + (codes == c),
            minlength=g * AP_BINS * 2,
        ).reshape(g, 2 * AP_BINS)
        for c, col in zip(ap_cls, cols, strict=True)
    ]
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
        ap_parts = r[..., e0 + 3 * nb :].reshape(*r.shape[:-1], len(cols), AP_BINS, 2)
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
        ap_res = np.full((1, len(cols)), np.nan)
    if binary:
        ap_val, ap_samples = float(ap_exact[0]), ap_res[:, 0]
        name = "average_precision"
    else:
        ap_val, ap_samples = float(nan_mean(ap_exact)), nan_mean(ap_res)
        name = "average_precision_macro"
    for c in np.flatnonzero(np.isnan(ap_exact)):
        messages.append(f"average precision of class {labels[ap_cls[c]]!r} (no true examples)")  # type: ignore[index]
    lo_, hi_ = percentile_bounds(ap_samples, level)
    out[name] = (
        Estimate(ap_val, float(lo_), float(hi_), level, boot, n)
        if not math.isnan(ap_val)
        else Estimate(math.nan, math.nan, math.nan, level, boot, n)
    )

    # ---- tables --------------------------------------------------------------------------------
    def curves(col: SortedColumn, c: int) -> tuple[dict[str, Any], dict[str, Any]]:
        is_pos = col.classes == c
        return (
            downsample_curve(roc_curve(col, is_pos), "fpr", "tpr", curve_points),
            downsample_curve(pr_curve(col, is_pos), "recall", "precision", curve_points),
        )

    if binary:
        tables["roc_curve"], tables["pr_curve"] = curves(cols[0], positive)  # type: ignore[arg-type]
    else:
        pairs = {label_key(labels[c]): curves(col, c) for c, col in enumerate(cols)}
        tables["roc_curve"] = {key: v[0] for key, v in pairs.items()}
        tables["pr_curve"] = {key: v[1] for key, v in pairs.items()}
    e0 = 3
    cnt = total[e0 : e0 + n_bins]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = total[e0 + n_bins : e0 + 2 * n_bins] / cnt
        acc = total[e0 + 2 * n_bins : e0 + 3 * n_bins] / cnt
    edges = np.arange(n_bins + 1) / n_bins
    tables["reliability"] = {
        "bin_lower": edges[:-1].tolist(),
        "bin_upper": edges[1:].tolist(),
        "mean_confidence": to_json_list(mean_conf),
        "accuracy": to_json_list(acc),
        "count": [int(x) for x in cnt],
    }
    return out, tables, messages


def _relabel(col: SortedColumn, positive: int) -> SortedColumn:
    """The same column with class codes 0 = positive, 1 = rest (for the one-column OVR call)."""
    return SortedColumn(
        col.order, col.scores, (col.classes != positive).astype(np.intp), col.gid, col.n_groups
    )
