"""Metrics per group and disparities across groups, with intervals, from per-group count cells.

Classification is reduced, per group ``g``, to five counts for the positive label (one-vs-rest in
multiclass problems):

* ``TN`` – neither truth nor prediction is the positive label, and the prediction is right;
* ``FP`` – predicted positive, truly not;
* ``FN`` – truly positive, predicted not;
* ``TP`` – both positive;
* ``TNX`` – neither is positive but the prediction is another wrong class (multiclass only, so that
  accuracy stays exact: ``accuracy = (TP + TN) / n``).

Definitions per group (``N = TN + TNX + FP``):

* ``accuracy = (TP + TN) / n``, ``selection_rate = (TP + FP) / n``,
* ``precision = TP / (TP + FP)``, ``recall = TP / (TP + FN)`` (true positive rate),
* ``f1 = 2TP / (2TP + FP + FN)``, ``false_positive_rate = FP / N``,
  ``false_negative_rate = FN / (TP + FN)``,
* ``ece``: expected calibration error of the group's top-class confidence (as the performance
  check defines it), when probabilities are given.

Across the groups of one feature: ``<metric>_min``, ``<metric>_max``, ``<metric>_difference``
(max − min) and ``<metric>_ratio`` (min / max), over the groups where the metric is defined (a
group whose rate is 0/0 — recall and the false negative rate without positives, the false positive
rate without negatives, precision without predicted positives, F1 with neither — is left out and
listed in ``GroupMetrics.left_out`` with every summary it was left out of; Fairlearn counts such a
rate as 0 instead), and
the named disparities (Fairlearn's definitions, ``between_groups``):

* ``demographic_parity_difference/ratio`` = selection-rate difference / ratio,
* ``equalized_odds_difference`` = max(TPR difference, FPR difference),
  ``equalized_odds_ratio`` = min(TPR ratio, FPR ratio),
* ``equal_opportunity_difference/ratio`` = TPR difference / ratio,
* ``false_positive_rate_difference``, ``false_negative_rate_difference``,
* ``predictive_parity_difference/ratio`` = precision difference / ratio,
* ``four_fifths`` = 1 when ``demographic_parity_ratio >= 0.8`` else 0 (no interval; gate on
  ``demographic_parity_ratio.lower`` for a statistically careful version).

Intervals. Per-group proportions: Wilson. Per-group F1: percentile bootstrap in which each
group's cells are redrawn from ``Multinomial(n_g, cells_g/n_g)``, all groups and all resamples in
one vectorised draw, so the cost is ``O(B · G)`` whatever the number of rows. Group sizes are held
fixed (a stratified bootstrap): the groups are a property of the population being audited, not a
random outcome. ECE and the regression errors need per-example values; they use the block
bootstrap of :mod:`assay.stats._bootstrap` within each group. Across-group summaries: simultaneous
bands over the same resamples (see :func:`_bands`) — of the groups' values for min and max, of the
signed differences of every pair of groups for a difference, of the ratios of every ordered pair
for a ratio — so that the interval of a max − min holds its point and reaches 0 when the groups
are alike (a percentile interval of max − min itself cannot: a maximum of noisy values is biased
upward).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.stats import mannwhitneyu

from assay.errors import MetricError
from assay.metrics import metrics_for
from assay.metrics._calibration import ece_bins, ece_from_sums
from assay.stats._bootstrap import (
    block_codes,
    block_multiplicities,
    block_sums,
    percentile_bounds,
)
from assay.stats._estimate import Estimate
from assay.stats._random import Seed, as_generator
from assay.stats._tests import two_proportion_test
from assay.stats._wilson import check_level, wilson_bounds

__all__ = [
    "CLASSIFICATION_GROUP_METRICS",
    "DISPARITIES",
    "REGRESSION_GROUP_METRICS",
    "GroupMetrics",
    "ece_rows",
    "encode_groups",
    "group_metrics",
    "group_regression_metrics",
    "summaries_of",
]

TN, FP, FN, TP, TNX = range(5)
#: Per-group classification metrics, in display order (``ece`` only with probabilities): the
#: catalogue's ``per_group`` metrics.
CLASSIFICATION_GROUP_METRICS = tuple(m.name for m in metrics_for("classification") if m.per_group)
REGRESSION_GROUP_METRICS = tuple(m.name for m in metrics_for("regression") if m.per_group)
#: Named disparities (classification), each ``(source metric, kind)``; kind is ``difference``
#: or ``ratio``. Equalized odds combines two sources and is handled apart.
DISPARITIES: dict[str, tuple[str, str]] = {
    "demographic_parity_difference": ("selection_rate", "difference"),
    "demographic_parity_ratio": ("selection_rate", "ratio"),
    "equal_opportunity_difference": ("recall", "difference"),
    "equal_opportunity_ratio": ("recall", "ratio"),
    "false_positive_rate_difference": ("false_positive_rate", "difference"),
    "false_negative_rate_difference": ("false_negative_rate", "difference"),
    "predictive_parity_difference": ("precision", "difference"),
    "predictive_parity_ratio": ("precision", "ratio"),
}
_SUMMARIES = ("min", "max", "difference", "ratio")
_PROPORTIONS = {
    # metric: (numerator cells, denominator cells)
    "accuracy": ((TP, TN), (TN, FP, FN, TP, TNX)),
    "selection_rate": ((TP, FP), (TN, FP, FN, TP, TNX)),
    "precision": ((TP,), (TP, FP)),
    "recall": ((TP,), (TP, FN)),
    "false_positive_rate": ((FP,), (FP, TN, TNX)),
    "false_negative_rate": ((FN,), (TP, FN)),
}
_MAX_BLOCKS_PER_GROUP = 200
FOUR_FIFTHS = 0.8


@dataclass(frozen=True)
class GroupMetrics:
    """Metrics per group of one sensitive feature, and disparities across its groups.

    Attributes:
        groups: group names, largest group first (ties by name).
        n: examples per group, aligned with ``groups``.
        by_group: ``{group: {metric: Estimate}}``.
        summaries: ``{name: Estimate}``: ``<metric>_min/_max/_difference/_ratio`` and the named
            disparities (see the module docstring).
        too_small: groups with fewer than ``min_n`` examples (shown, not to be gated on).
        p_values: ``{group: {test: p}}``: ``accuracy_worse`` (one-sided two-proportion test that
            the group's accuracy is below the rest's) and ``selection_rate_differs`` (two-sided),
            or ``mae_worse`` for regression (one-sided, Mann–Whitney). Uncorrected; correct them
            across everything tested (the fairness check uses Benjamini–Hochberg).
        cells: classification only: ``{group: [TN, FP, FN, TP, TNX]}``.
        left_out: ``{group: {metric: [summary, ...]}}``: groups counted in the summaries whose
            value of ``metric`` is undefined (0/0), and the summaries (and named disparities)
            computed without them.
    """

    groups: list[str]
    n: list[int]
    by_group: dict[str, dict[str, Estimate]]
    summaries: dict[str, Estimate]
    too_small: list[str] = field(default_factory=list)
    p_values: dict[str, dict[str, float]] = field(default_factory=dict)
    cells: dict[str, list[int]] = field(default_factory=dict)
    left_out: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def summaries_of(metric: str) -> list[str]:
    """The across-group summaries and named disparities computed from ``metric``."""
    out = [f"{metric}_{kind}" for kind in _SUMMARIES]
    out += [name for name, (src, _) in DISPARITIES.items() if src == metric]
    if metric in ("recall", "false_positive_rate"):
        out += ["equalized_odds_difference", "equalized_odds_ratio"]
    return out


def _left_out(
    point: dict[str, NDArray[np.float64]], eligible: NDArray[np.bool_], names: list[str]
) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for metric, values in point.items():
        for g in np.flatnonzero(eligible & ~np.isfinite(values)):
            out.setdefault(names[g], {})[metric] = summaries_of(metric)
    return out


def encode_groups(groups: ArrayLike) -> tuple[NDArray[np.intp], list[str]]:
    """Integer codes and names of the groups in ``groups`` (missing values are an error here).

    Small non-negative integer arrays are used as codes directly (no hashing), which keeps a
    million-row audit in milliseconds.
    """
    arr = np.asarray(groups)
    if arr.dtype.kind in "iu" and arr.size and arr.min() >= 0 and arr.max() < 1_000_000:
        counts = np.bincount(arr)
        present = np.flatnonzero(counts)
        if len(present) == len(counts):
            return arr.astype(np.intp, copy=False), [str(v) for v in present]
        remap = np.full(len(counts), -1, dtype=np.intp)
        remap[present] = np.arange(len(present))
        return remap[arr], [str(v) for v in present]
    codes, uniques = pd.factorize(pd.Series(arr, dtype=object) if arr.dtype.kind == "O" else arr)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise MetricError(
            f"groups: missing value at position {i}; give missing values a group of their own "
            "(the fairness check names them <missing>)"
        )
    return codes.astype(np.intp, copy=False), [str(u) for u in uniques]


def _positive_mask(y: NDArray[Any], positive_label: Any) -> NDArray[np.bool_]:
    return np.asarray(y == positive_label, dtype=bool)


def group_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    groups: ArrayLike,
    *,
    positive_label: Any = 1,
    proba: ArrayLike | None = None,
    labels: Sequence[Any] | None = None,
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: Seed = None,
    min_n: int = 30,
    n_bins: int = 10,
    summary_min_n: int = 0,
) -> GroupMetrics:
    """Classification metrics per group and disparities across groups, every one with an interval.

    Args:
        y_true: true labels, shape ``(n,)``.
        y_pred: predicted labels, shape ``(n,)``.
        groups: the group of every example (one sensitive feature, or an intersection already
            joined into one value per example).
        positive_label: the label whose selection is audited; other labels are "negative"
            (one-vs-rest for multiclass).
        proba: optional ``(n, k)`` probabilities, columns in the order of ``labels``; gives ECE.
        labels: the class order of ``proba``'s columns (needed with ``proba``).
        level: confidence level of every interval.
        n_bootstrap: bootstrap resamples.
        seed: the bootstrap's randomness, a :data:`assay.stats.Seed` (an int, a generator, a
            ``SeedSequence`` or ``None``).
        min_n: groups with fewer examples are listed in ``too_small``.
        n_bins: ECE bins.
        summary_min_n: groups with fewer examples are left out of the across-group summaries
            (0: every group counts, as in Fairlearn).

    Returns:
        A :class:`GroupMetrics`.

    Raises:
        MetricError: mismatched lengths, empty input, ``proba`` without ``labels``.

    Example:
        >>> gm = group_metrics([1, 0, 1, 1], [1, 0, 0, 1], ["a", "a", "b", "b"], seed=0)
        >>> gm.by_group["b"]["recall"].value, gm.summaries["demographic_parity_difference"].value
        (0.5, 0.0)
    """
    level = check_level(level)
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    n = len(yt)
    if yp.shape != yt.shape or yt.ndim != 1 or len(np.asarray(groups)) != n:
        raise MetricError(
            f"y_true, y_pred and groups must be 1-D of equal length; got {yt.shape}, {yp.shape} "
            f"and {np.shape(groups)}"
        )
    if n == 0:
        raise MetricError("group_metrics needs at least one example; got none")
    codes, names = encode_groups(groups)
    n_groups = len(names)
    t_pos = _positive_mask(yt, positive_label)
    p_pos = _positive_mask(yp, positive_label)
    wrong = None
    if yt.dtype.kind not in "b" and not _is_binary(yt, yp, t_pos, p_pos):
        wrong = yt != yp
    cells = np.bincount(
        codes * 5 + _row_cells(t_pos, p_pos, wrong), minlength=n_groups * 5
    ).reshape(n_groups, 5)
    rng = as_generator(seed)
    ece = None
    if proba is not None:

        def ece(r: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            return _ece_by_group(yt, proba, labels, codes, n_groups, n_bins, n_bootstrap, r)

    return _from_cells(
        cells,
        names,
        level=level,
        n_bootstrap=n_bootstrap,
        rng=rng,
        min_n=min_n,
        ece=ece,
        summary_min_n=summary_min_n,
    )


def _row_cells(
    t_pos: NDArray[np.bool_], p_pos: NDArray[np.bool_], wrong: NDArray[np.bool_] | None
) -> NDArray[np.int8]:
    """The cell (``TN``, ``FP``, ``FN``, ``TP`` or ``TNX``) of every example: ``wrong`` (the
    prediction is not the truth) turns a ``TN`` into ``TNX``; ``None`` for binary problems."""
    cell = t_pos.view(np.int8) * 2 + p_pos.view(np.int8)
    if wrong is not None:
        cell = np.where((cell == TN) & wrong, np.int8(TNX), cell)
    return cell


def _is_binary(yt: NDArray[Any], yp: NDArray[Any], t_pos: Any, p_pos: Any) -> bool:
    """Whether every non-positive label is one and the same value (so TNX cannot occur)."""
    neg = np.concatenate([yt[~t_pos][:1], yp[~p_pos][:1]])
    if len(neg) == 0:
        return True
    other = neg[0]
    if yt.dtype.kind in "iuf" and yp.dtype.kind in "iuf":
        # Cheap for numbers: two labels in total means binary.
        lo = min(yt.min(), yp.min())
        hi = max(yt.max(), yp.max())
        same = np.all((yt == lo) | (yt == hi)) and np.all((yp == lo) | (yp == hi))
        return bool(lo == hi or same)
    return bool(np.all(yt[~t_pos] == other) and np.all(yp[~p_pos] == other))


def _ratio(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _metric_arrays(c: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """Every per-group metric from cells of shape ``(..., G, 5)``."""
    out = {}
    for name, (num, den) in _PROPORTIONS.items():
        out[name] = _ratio(c[..., list(num)].sum(-1), c[..., list(den)].sum(-1))
    out["f1"] = _ratio(2 * c[..., TP], 2 * c[..., TP] + c[..., FP] + c[..., FN])
    return out


def _summaries(
    values: dict[str, NDArray[np.float64]], eligible: NDArray[np.bool_]
) -> dict[str, NDArray[np.float64]]:
    """Min, max, difference, ratio of each metric over eligible groups (last axis)."""
    out: dict[str, NDArray[np.float64]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows -> NaN, on purpose
        for name, v in values.items():
            v = np.where(eligible, v, np.nan)
            lo, hi = np.nanmin(v, axis=-1), np.nanmax(v, axis=-1)
            out[f"{name}_min"] = lo
            out[f"{name}_max"] = hi
            out[f"{name}_difference"] = hi - lo
            out[f"{name}_ratio"] = _ratio(lo, hi)
    if "selection_rate" in values:
        for dname, (src, kind) in DISPARITIES.items():
            out[dname] = out[f"{src}_{kind}"]
        out["equalized_odds_difference"] = np.fmax(
            out["recall_difference"], out["false_positive_rate_difference"]
        )
        # Fairlearn: the smaller of the two ratios; NaN if either is undefined.
        out["equalized_odds_ratio"] = np.minimum(
            out["recall_ratio"], out["false_positive_rate_ratio"]
        )
    return out


def _from_cells(
    cells: NDArray[np.integer],
    names: list[str],
    *,
    level: float,
    n_bootstrap: int,
    rng: np.random.Generator,
    min_n: int,
    ece: Callable[[np.random.Generator], tuple[NDArray[np.float64], NDArray[np.float64]]] | None,
    summary_min_n: int = 0,
) -> GroupMetrics:
    """Every per-group metric, summary and test from the cells. ``ece`` gives the ECE per group
    (point, resamples) from the generator, called after the cells' resamples are drawn, so
    that the count metrics draw the same numbers however the ECE is resampled."""
    c = cells.astype(np.float64)
    sizes = cells.sum(axis=1)
    n_total = int(sizes.sum())
    point = _metric_arrays(c)
    # One draw: B resamples × G groups × 5 cells; each group keeps its size.
    p = c / np.maximum(sizes, 1)[:, None]
    boot_cells = rng.multinomial(sizes, p, size=(n_bootstrap, len(names))).astype(np.float64)
    boot = _metric_arrays(boot_cells)
    if ece is not None:
        point["ece"], boot["ece"] = ece(rng)
    order = sorted(range(len(names)), key=lambda g: (-int(sizes[g]), names[g]))
    by_group: dict[str, dict[str, Estimate]] = {names[g]: {} for g in order}
    for name, (num, den) in _PROPORTIONS.items():
        k = cells[:, list(num)].sum(1)
        m = cells[:, list(den)].sum(1)
        lo, hi = wilson_bounds(k, m, level=level)
        for g in order:
            by_group[names[g]][name] = Estimate(
                float(point[name][g]), float(lo[g]), float(hi[g]), level, "wilson", int(m[g])
            )
    for name in ("f1", "ece"):
        if name not in point:
            continue
        blo, bhi = percentile_bounds(boot[name], level)
        method = "bootstrap-counts" if name == "f1" else "bootstrap"
        for g in order:
            by_group[names[g]][name] = Estimate(
                float(point[name][g]), float(blo[g]), float(bhi[g]), level, method, int(sizes[g])
            )
    ordered = [m for m in CLASSIFICATION_GROUP_METRICS if m in point]
    for g in order:
        by_group[names[g]] = {m: by_group[names[g]][m] for m in ordered}
    summaries = _summary_estimates(
        point, boot, sizes, level, method="bootstrap-counts", summary_min_n=summary_min_n
    )
    dpr = summaries["demographic_parity_ratio"]
    summaries["four_fifths"] = Estimate.point(
        float("nan") if not dpr.defined else float(dpr.value >= FOUR_FIFTHS),
        n=n_total,
        level=level,
    )
    p_values = {}
    for g in order:
        rest = cells.sum(0) - cells[g]
        p_values[names[g]] = _group_pvalues(cells[g], rest)
    return GroupMetrics(
        groups=[names[g] for g in order],
        n=[int(sizes[g]) for g in order],
        by_group=by_group,
        summaries=summaries,
        too_small=[names[g] for g in order if sizes[g] < min_n],
        p_values=p_values,
        cells={names[g]: [int(x) for x in cells[g]] for g in order},
        left_out=_left_out(point, sizes >= summary_min_n, names),
    )


def _summary_estimates(
    point: dict[str, NDArray[np.float64]],
    boot: dict[str, NDArray[np.float64]],
    sizes: NDArray[np.integer],
    level: float,
    *,
    method: str,
    summary_min_n: int = 0,
) -> dict[str, Estimate]:
    """Every across-group summary with a simultaneous interval (see :func:`_bands`)."""
    eligible = sizes >= summary_min_n
    s_point = _summaries(point, eligible)
    n_total = int(sizes[eligible].sum())
    m = f"simultaneous-{method}"
    out: dict[str, Estimate] = {}
    for name in point:
        v, b = point[name], boot[name]
        used = eligible & np.isfinite(v)
        lo_g, hi_g = _group_bands(v, b, used, level)
        d_lo, d_hi = _difference_bounds([(v, b, used)], level)
        r_lo, r_hi = _ratio_bounds([(v, b, used)], level)
        bounds = {
            "min": (np.min(lo_g, initial=np.inf), np.min(hi_g, initial=np.inf)),
            "max": (np.max(lo_g, initial=-np.inf), np.max(hi_g, initial=-np.inf)),
            "difference": (d_lo, d_hi),
            "ratio": (r_lo, r_hi),
        }
        for kind, (lo, hi) in bounds.items():
            key = f"{name}_{kind}"
            out[key] = _estimate(float(s_point[key]), lo, hi, level, m, n_total)
    if "selection_rate" in point:
        for dname, (src, kind) in DISPARITIES.items():
            out[dname] = out[f"{src}_{kind}"]
        # equalized odds: the TPR and FPR bands hold jointly
        both = [
            (point[k], boot[k], eligible & np.isfinite(point[k]))
            for k in ("recall", "false_positive_rate")
        ]
        lo, hi = _difference_bounds(both, level)
        key = "equalized_odds_difference"
        out[key] = _estimate(float(s_point[key]), lo, hi, level, m, n_total)
        lo, hi = _ratio_bounds(both, level)
        key = "equalized_odds_ratio"
        out[key] = _estimate(float(s_point[key]), lo, hi, level, m, n_total)
    return out


def _estimate(value: float, lo: float, hi: float, level: float, method: str, n: int) -> Estimate:
    if not np.isfinite(value):
        return Estimate(float("nan"), float("nan"), float("nan"), level, method, n)
    # a band holds its own point; this guards against discreteness of a percentile band
    lo = value if not np.isfinite(lo) else min(float(lo), value)
    hi = value if not np.isfinite(hi) else max(float(hi), value)
    return Estimate(value, lo, hi, level, method, n)


def _bands(
    point: NDArray[np.float64], boot: NDArray[np.float64], level: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Simultaneous percentile bands for the columns of ``boot`` (``(B, K)``, points ``(K,)``).

    The narrowest rank band ``[q_t, q_(B-1-t)]`` (the same ``t`` for every column) that holds
    every column at once in at least ``level`` of the resamples — the max-rank construction of
    simultaneous bootstrap bands. A resample where a column is undefined (a group's 0/0) counts
    as the point there, so it neither widens nor narrows that column.
    """
    n_boot, k = boot.shape
    if k == 0 or n_boot == 0:
        return np.full(k, np.nan), np.full(k, np.nan)
    x = np.where(np.isfinite(boot), boot, point[None, :])
    order = np.argsort(x, axis=0, kind="stable")
    ranks = np.empty_like(order)
    ranks[order, np.arange(k)[None, :]] = np.arange(n_boot)[:, None]
    depth = np.minimum(ranks, n_boot - 1 - ranks).min(axis=1)  # (B,): most extreme column
    # the largest t with share(depth >= t) >= level
    t = int(np.quantile(depth, 1.0 - level, method="lower"))
    srt = np.take_along_axis(x, order, axis=0)
    return srt[t], srt[n_boot - 1 - t]


def _group_bands(
    v: NDArray[np.float64], b: NDArray[np.float64], used: NDArray[np.bool_], level: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Simultaneous bands of the groups' own values (for the min and the max)."""
    idx = np.flatnonzero(used)
    return _bands(v[idx], b.reshape(-1, len(v))[:, idx], level)


def _pairs(
    family: list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]],
    *,
    ordered: bool,
    op: str,
) -> list[tuple[NDArray[np.float64], NDArray[np.float64], int]]:
    """For each metric of ``family``: point ``(P,)`` and bootstrap ``(B, P)`` of ``op``
    (``"diff"``: v_i − v_j, ``"ratio"``: v_i / v_j) over its pairs of used groups."""
    out = []
    for v, b, used in family:
        b = b.reshape(-1, len(v))
        idx = np.flatnonzero(used)
        ii, jj = np.meshgrid(idx, idx, indexing="ij")
        keep = (ii != jj) if ordered else (ii < jj)
        i, j = ii[keep], jj[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            if op == "diff":
                pv, pb = v[i] - v[j], b[:, i] - b[:, j]
            else:
                pv, pb = v[i] / v[j], b[:, i] / b[:, j]
        ok = np.isfinite(pv)
        out.append((pv[ok], pb[:, ok], len(idx)))
    return out


def _difference_bounds(
    family: list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]],
    level: float,
) -> tuple[float, float]:
    """Bounds of ``max over the family of (max − min)``, from simultaneous bands of the signed
    differences of every pair of groups: the range is at least every pair's |difference| and
    is one pair's difference, so ``[max(0, max_p max(lo_p, −hi_p)), max_p max(|lo_p|, |hi_p|)]``
    holds whenever the bands do. Unlike a percentile interval of max − min itself (biased
    upward: a maximum of noisy values), the lower bound reaches 0 when the groups are alike."""
    parts = _pairs(family, ordered=False, op="diff")
    if all(n <= 1 for _, _, n in parts) and any(n == 1 for _, _, n in parts):
        return 0.0, 0.0  # one group: max − min is 0 by definition
    pv = np.concatenate([p for p, _, _ in parts])
    if not len(pv):
        return float("nan"), float("nan")
    lo, hi = _bands(pv, np.concatenate([b for _, b, _ in parts], axis=1), level)
    return float(max(0.0, np.max(np.maximum(lo, -hi)))), float(
        np.max(np.maximum(np.abs(lo), np.abs(hi)))
    )


def _ratio_bounds(
    family: list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]],
    level: float,
) -> tuple[float, float]:
    """Bounds of ``min over the family of (min / max)``, from simultaneous bands of the ratios
    of every ordered pair of groups (the ratio is the smallest of them): ``[min_p lo_p,
    min(1, min_p hi_p)]``."""
    parts = _pairs(family, ordered=True, op="ratio")
    if all(n <= 1 for _, _, n in parts) and any(n == 1 for _, _, n in parts):
        return 1.0, 1.0
    pv = np.concatenate([p for p, _, _ in parts])
    if not len(pv):
        return float("nan"), float("nan")
    lo, hi = _bands(pv, np.concatenate([b for _, b, _ in parts], axis=1), level)
    upper = float(np.min(hi))
    if np.all(pv >= 0):
        upper = min(upper, 1.0)
    return float(np.min(lo)), upper


def _group_pvalues(g: NDArray[np.integer], rest: NDArray[np.integer]) -> dict[str, float]:
    n1, n2 = int(g.sum()), int(rest.sum())
    if n1 == 0 or n2 == 0:
        return {"accuracy_worse": float("nan"), "selection_rate_differs": float("nan")}
    acc = two_proportion_test(
        int(g[TP] + g[TN]), n1, int(rest[TP] + rest[TN]), n2, alternative="less"
    )
    sel = two_proportion_test(int(g[TP] + g[FP]), n1, int(rest[TP] + rest[FP]), n2)
    return {"accuracy_worse": acc, "selection_rate_differs": sel}


def _block_boot_means(
    values: NDArray[np.float64],
    codes: NDArray[np.intp],
    n_groups: int,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]:
    """Per group: the column sums of ``values`` (n, d) and ``(B, d)`` bootstrap column sums.

    Each group is cut into at most ``_MAX_BLOCKS_PER_GROUP`` random blocks; a resample draws
    block multiplicities (see :mod:`assay.stats._bootstrap`).
    """
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    sums, boots = [], []
    for g in range(n_groups):
        rows = order[bounds[g] : bounds[g + 1]]
        vals = values[rows]
        bc, nb = block_codes(len(rows), rng, max_blocks=_MAX_BLOCKS_PER_GROUP)
        bs = block_sums(bc, nb, vals)
        mult = block_multiplicities(nb, n_bootstrap, rng)
        sums.append(vals.sum(axis=0))
        boots.append(mult @ bs)
    return sums, boots


def ece_rows(
    y_true: ArrayLike, proba: ArrayLike, labels: Sequence[Any] | None, n_bins: int
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """ECE bin, top-class confidence and correctness of every example, as ``group_metrics``
    uses them (a true label outside ``labels`` counts as wrong).

    Row by row, so a caller that streams its rows in chunks computes them chunk by chunk (see
    :class:`assay.fairness.GroupSketch`).

    Raises:
        MetricError: ``proba`` without ``labels``, or not of shape ``(n, len(labels))``.
    """
    yt = np.asarray(y_true)
    if labels is None:
        raise MetricError("group_metrics: proba needs labels (the class of each column)")
    pr = np.asarray(proba, dtype=np.float64)
    if pr.shape != (len(yt), len(labels)):
        shape = (len(yt), len(labels))
        raise MetricError(f"proba must have shape (n, len(labels)) = {shape}; got {pr.shape}")
    index = {str(lab): j for j, lab in enumerate(labels)}
    ycodes = np.array([index.get(str(v), -1) for v in yt], dtype=np.intp)
    b, conf, correct = ece_bins(pr, np.where(ycodes < 0, 0, ycodes), n_bins)
    return b, conf, np.where(ycodes < 0, 0.0, correct)


def _ece_point_boot(
    sums: Sequence[NDArray[np.float64]], boots: Sequence[NDArray[np.float64]], n_bins: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-group ECE ``(G,)`` and its resamples ``(B, G)`` from, per group, the per-bin sums
    ``[count | confidence | correct]`` (``3 · n_bins``) and their ``(B, 3 · n_bins)`` resamples."""
    point = np.array(
        [float(ece_from_sums(s[:n_bins], s[n_bins : 2 * n_bins], s[2 * n_bins :])) for s in sums]
    )
    boot = np.stack(
        [
            ece_from_sums(bt[:, :n_bins], bt[:, n_bins : 2 * n_bins], bt[:, 2 * n_bins :])
            for bt in boots
        ],
        axis=1,
    )
    return point, boot


def _ece_by_group(
    y_true: NDArray[Any],
    proba: ArrayLike,
    labels: Sequence[Any] | None,
    codes: NDArray[np.intp],
    n_groups: int,
    n_bins: int,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    b, conf, correct = ece_rows(y_true, proba, labels, n_bins)
    onehot = np.zeros((len(b), n_bins))
    onehot[np.arange(len(b)), b] = 1.0
    values = np.hstack([onehot, onehot * conf[:, None], onehot * correct[:, None]])
    sums, boots = _block_boot_means(values, codes, n_groups, n_bootstrap, rng)
    return _ece_point_boot(sums, boots, n_bins)


def group_regression_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    groups: ArrayLike,
    *,
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: Seed = None,
    min_n: int = 30,
    summary_min_n: int = 0,
) -> GroupMetrics:
    """Regression errors per group (``mae``, ``mean_residual`` = mean(y − ŷ), ``rmse``) and their
    min, max, difference and ratio across groups, with block-bootstrap intervals.

    Args:
        y_true: true values.
        y_pred: predicted values.
        groups: the group of every example.
        level: confidence level.
        n_bootstrap: bootstrap resamples.
        seed: the bootstrap's randomness, a :data:`assay.stats.Seed` (an int, a generator, a
            ``SeedSequence`` or ``None``).
        min_n: groups with fewer examples are listed in ``too_small``.
        summary_min_n: groups with fewer examples are left out of the across-group summaries.

    Returns:
        A :class:`GroupMetrics` (no ``cells``).

    Example:
        >>> gm = group_regression_metrics([1.0, 2.0, 3.0, 5.0], [1.0, 1.0, 3.0, 3.0],
        ...                               ["a", "a", "b", "b"], seed=0)
        >>> gm.by_group["a"]["mae"].value, gm.summaries["mae_difference"].value
        (0.5, 0.5)
    """
    level = check_level(level)
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    if yp.shape != yt.shape or yt.ndim != 1 or len(np.asarray(groups)) != len(yt) or not len(yt):
        raise MetricError(
            f"y_true, y_pred and groups must be 1-D, non-empty and of equal length; got "
            f"{yt.shape}, {yp.shape} and {np.shape(groups)}"
        )
    codes, names = encode_groups(groups)
    r = yt - yp
    values = np.column_stack([np.ones_like(r), np.abs(r), r, r * r])
    rng = as_generator(seed)
    sums, boots = _block_boot_means(values, codes, len(names), n_bootstrap, rng)
    s = np.stack(sums)  # (G, 4)
    bt = np.stack(boots, axis=1)  # (B, G, 4)

    def metrics(x: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
        cnt = x[..., 0]
        return {
            "mae": _ratio(x[..., 1], cnt),
            "mean_residual": _ratio(x[..., 2], cnt),
            "rmse": np.sqrt(_ratio(x[..., 3], cnt)),
        }

    point, boot = metrics(s), metrics(bt)
    sizes = s[:, 0].astype(np.int64)
    order = sorted(range(len(names)), key=lambda g: (-int(sizes[g]), names[g]))
    by_group: dict[str, dict[str, Estimate]] = {}
    for m in REGRESSION_GROUP_METRICS:
        lo, hi = percentile_bounds(boot[m], level)
        for g in order:
            by_group.setdefault(names[g], {})[m] = Estimate(
                float(point[m][g]), float(lo[g]), float(hi[g]), level, "bootstrap", int(sizes[g])
            )
    abs_r = np.abs(r)
    p_values = {}
    for g in order:
        inside = codes == g
        if inside.all():
            p_values[names[g]] = {"mae_worse": float("nan")}
            continue
        p = mannwhitneyu(abs_r[inside], abs_r[~inside], alternative="greater").pvalue
        p_values[names[g]] = {"mae_worse": float(p)}
    return GroupMetrics(
        groups=[names[g] for g in order],
        n=[int(sizes[g]) for g in order],
        by_group=by_group,
        summaries=_summary_estimates(
            point, boot, sizes, level, method="bootstrap", summary_min_n=summary_min_n
        ),
        too_small=[names[g] for g in order if sizes[g] < min_n],
        p_values=p_values,
    )
