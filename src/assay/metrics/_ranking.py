"""Ranking metrics from scores: ROC/PR curves, ROC-AUC (one-vs-rest, one-vs-one) with DeLong-style
variances, and average precision.

Each score column is sorted once (``SortedColumn``); the curves, the AUCs, their DeLong components
and the binned counts used by the average-precision bootstrap are all read off that one ordering,
through cumulative class counts at the ends of the tie groups (no per-class search or re-sort).

Multiclass AUC intervals: every averaged AUC (OVR macro/weighted, OVO macro/weighted) is a linear
combination ``Σ_c w_c A_c`` of binary AUCs computed on the same examples. Each binary AUC has
DeLong's structural components, which give every example an influence on it
(``(V10_i - A)/sqrt(m(m-1))`` for a positive, ``(V01_j - A)/sqrt(n(n-1))`` for a negative; for one
AUC the sum of squares is exactly DeLong's variance). The influences are added per example over the
combination, so the covariance between the binary AUCs is accounted for, and the variance of the
average is the sum of squared per-example influences. The interval is then logit-transformed like
the binary one (``assay.stats.delong_auc``). The OVR weights (class prevalences) are treated as
fixed.

One-vs-one from one column: ``A(a|b)`` scores classes ``a`` (positives) against ``b`` with column
``a``. With ``T(x) = 2·#{class a below x} + #{class a tied with x}`` (from the cumulative count of
class ``a``), a class-``b`` example has ``V01 = 1 - T/(2 n_a)`` and ``A(a|b) = 1 - Σ_b T/(2 n_a
n_b)``. A class-``a`` example needs ``Σ_b w_ab V10_{a|b}``, a weighted count of the examples of every
other class below it; that is one cumulative sum of per-class weights ``w_ab / (2 n_b)`` over the
sorted column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.metrics._validation import label_key

__all__ = [
    "AucInfluence",
    "OwnClass",
    "SortedColumn",
    "average_precision_binned",
    "average_precision_exact",
    "binned_codes",
    "curve_tables",
    "curves_by_class",
    "curves_from_counts",
    "ovr_influence",
    "sort_order",
    "to_json_list",
]

F = NDArray[np.float64]
Idx = NDArray[np.intp]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class SortedColumn:
    """One score column sorted ascending, with the tie groups and the class of each position."""

    order: Idx  # example index at each sorted position
    scores: F  # sorted scores
    classes: NDArray[np.integer[Any]]  # class code at each sorted position (a small int type)
    starts: Idx  # first sorted position of each tie group (equal scores form one group)
    gid: Idx | None  # tie group of each sorted position; None when every score is distinct

    @classmethod
    def build(cls, scores: F, codes: NDArray[np.integer[Any]]) -> SortedColumn:
        """Sort ``scores``; pass ``codes`` in the smallest integer type that holds them (the
        per-column gather of the codes is then cheaper)."""
        order, s = sort_order(scores)
        n = len(s)
        new = np.empty(n, dtype=bool)
        if n:
            new[0] = True
            np.not_equal(s[1:], s[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        gid = None if len(starts) == n else np.cumsum(new, dtype=np.intp) - 1
        return cls(order, s, np.take(codes, order), starts, gid)

    @property
    def n_groups(self) -> int:
        return len(self.starts)

    def per_position(self, per_group: NDArray[Any]) -> NDArray[Any]:
        """Expand a per-group array to the sorted positions."""
        return per_group if self.gid is None else per_group[self.gid]

    def at_group_ends(self, cumulative: NDArray[Any]) -> NDArray[Any]:
        """A cumulative per-position array read at the last position of each tie group."""
        if self.gid is None:
            return cumulative
        return cumulative[np.r_[self.starts[1:], len(self.order)] - 1]

    def group_scores(self) -> F:
        return self.scores if self.gid is None else self.scores[self.starts]

    def to_examples(self, sorted_values: F) -> F:
        """Values given per sorted position, rearranged into example order."""
        out = np.empty(len(self.order), dtype=np.float64)
        out[self.order] = sorted_values
        return out


def sort_order(x: F) -> tuple[Idx, F]:
    """An ascending order of ``x`` and the sorted values; tied values in any order.

    For scores in ``[0, 1]`` (probabilities) this sorts 64-bit keys instead of calling
    ``argsort``: the bit pattern of a non-negative double increases with its value, so the pattern
    shifted past the always-zero sign and top exponent bit, with its lowest bits replaced by the
    example index, sorts by value and carries the index (``np.sort`` of integers is much faster
    than ``argsort`` of doubles). Values that agree on the kept high bits but differ below them can
    come out of order; those runs (rare: within a relative 2^-(50 - log2 n)) are re-sorted
    exactly, so the result is a true sort of ``x``.
    """
    n = len(x)
    if n < 2 or not (x.min() >= 0.0 and x.max() <= 1.0):  # -0.0 passes and maps to +0.0's key
        by_value = np.argsort(x)
        return by_value, np.take(x, by_value)
    x = np.ascontiguousarray(x)
    bits = (n - 1).bit_length()
    low = np.uint64((1 << bits) - 1)
    keys = x.view(np.uint64) << np.uint64(2)
    keys &= ~low
    keys |= np.arange(n, dtype=np.uint64)
    keys.sort()
    order: Idx = (keys & low).view(np.intp)
    s = np.take(x, order)
    bad = np.flatnonzero(s[1:] < s[:-1])
    if len(bad):
        # Re-sort each run of equal high key that holds a descent, by exact value.
        shift = np.uint64(bits)
        high = np.unique(keys[bad] >> shift)
        first = np.searchsorted(keys, high << shift, "left").tolist()
        last = np.searchsorted(keys, (high + np.uint64(1)) << shift, "left").tolist()
        for lo, hi in zip(first, last, strict=True):
            run = np.argsort(s[lo:hi])
            order[lo:hi] = order[lo:hi][run]
            s[lo:hi] = s[lo:hi][run]
    return order, s


@dataclass(frozen=True)
class OwnClass:
    """Counts of one class ``c`` over the tie groups of a column (ascending score order)."""

    c: int
    is_pos: NDArray[np.bool_]  # class c at each sorted position
    through: I64  # examples of class c at or below each group (cumulative at the group end)
    pos_g: F  # class-c examples per group
    neg_g: F  # other examples per group
    neg_through: I64  # other examples at or below each group

    @classmethod
    def build(cls, col: SortedColumn, c: int) -> OwnClass:
        is_pos = col.classes == c
        through = col.at_group_ends(np.cumsum(is_pos, dtype=np.int64))
        pos_i = np.diff(through, prepend=0)
        size = np.diff(np.r_[col.starts, len(col.order)]) if col.gid is not None else 1
        neg_i = size - pos_i
        neg_through = (
            np.cumsum(neg_i) if col.gid is not None else np.arange(1, len(through) + 1) - through
        )
        return cls(
            c, is_pos, through, pos_i.astype(np.float64), neg_i.astype(np.float64), neg_through
        )

    @property
    def m(self) -> int:
        return int(self.through[-1]) if len(self.through) else 0

    def descending(self) -> tuple[F, F]:
        """Cumulative positives and negatives from the highest group down (``score >= t``)."""
        return np.cumsum(self.pos_g[::-1]), np.cumsum(self.neg_g[::-1])


def ovr_influence(col: SortedColumn, own: OwnClass) -> tuple[float, F | None]:
    """AUC of class ``own.c`` against the rest with ``col``, and each sorted position's DeLong
    influence on it (``None`` when the AUC is undefined: the class is absent or is every example).
    """
    m = float(own.m)
    nn = float(len(col.order) - own.m)
    if m == 0 or nn == 0:
        return math.nan, None
    # Structural components per tie group: negatives below (+½ tied), positives above (+½).
    v10_g = (own.neg_through - 0.5 * own.neg_g) / nn
    v01_g = (m - own.through + 0.5 * own.pos_g) / m
    auc = float((own.pos_g * v10_g).sum() / m)
    inf_pos = (v10_g - auc) / math.sqrt(m * (m - 1)) if m > 1 else np.zeros_like(v10_g)
    inf_neg = (v01_g - auc) / math.sqrt(nn * (nn - 1)) if nn > 1 else np.zeros_like(v01_g)
    return auc, np.where(own.is_pos, col.per_position(inf_pos), col.per_position(inf_neg))


class AucInfluence:
    """Multiclass OVR and OVO (Hand & Till) AUCs with their per-example DeLong influences,
    accumulated one sorted column at a time (``add``) and read off by ``ovr`` / ``ovo``.

    OVR: macro averages the defined classes, weighted weights them by support. OVO: each pair of
    present classes scores ``(A(a|b) + A(b|a)) / 2``; macro averages the pairs, weighted weights a
    pair by the fraction of examples in its two classes.
    """

    def __init__(self, counts: I64) -> None:
        k = len(counts)
        self.counts = counts
        self.n = int(counts.sum())
        self.aucs = np.full(k, np.nan)
        defined = (counts > 0) & (counts < self.n)
        sup = counts.astype(np.float64)
        self.ovr_w = (1.0 / defined.sum(), sup / sup[defined].sum()) if defined.any() else None
        self.psi_ovr = (np.zeros(self.n), np.zeros(self.n))
        present = counts > 0
        self.pairs = [(a, b) for a in range(k) for b in range(a + 1, k) if present[a] & present[b]]
        self.undefined = [
            (a, b) for a in range(k) for b in range(a + 1, k) if not (present[a] & present[b])
        ]
        # Pair weights as (k, k) matrices (symmetric, zero off the defined pairs).
        self.prev = np.array([(counts[a] + counts[b]) / self.n for a, b in self.pairs])
        self.w_pair = (np.zeros((k, k)), np.zeros((k, k)))
        for i, (a, b) in enumerate(self.pairs):
            for w, val in zip(
                self.w_pair, (1.0 / (2 * len(self.pairs)), self.prev[i] / (2.0 * self.prev.sum()))
            ):
                w[a, b] = w[b, a] = val
        self.a_ovo = np.full((k, k), np.nan)  # A(a|b) at [a, b]
        self.psi_ovo = (np.zeros(self.n), np.zeros(self.n))

    def add(self, col: SortedColumn, own: OwnClass) -> None:
        """Add column ``own.c`` (scores of that class) to both averages."""
        a = own.c
        auc, infl = ovr_influence(col, own)
        self.aucs[a] = auc
        if infl is not None and self.ovr_w is not None:
            unit = col.to_examples(infl)
            self.psi_ovr[0][:] += unit * self.ovr_w[0]
            self.psi_ovr[1][:] += unit * self.ovr_w[1][a]
        self._add_ovo(col, own)

    def _add_ovo(self, col: SortedColumn, own: OwnClass) -> None:
        a, cnt = own.c, self.counts
        n_a = int(cnt[a])
        if n_a == 0 or not self.pairs:
            return
        others = self.w_pair[0][a] > 0  # classes b paired with a
        if not others.any():
            return
        cls = col.classes
        # T = 2·(class a strictly below) + (class a tied), per group then per position.
        t_pos = col.per_position((2 * own.through - own.pos_g).astype(np.float64))
        sums = np.bincount(cls, weights=t_pos, minlength=len(cnt))
        denom = 2.0 * n_a * cnt.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            a_col = np.where(others, 1.0 - sums / denom, 0.0)  # A(a|b) for each b
        self.a_ovo[a, others] = a_col[others]
        # V01 - A(a|b) of every class-b example (V01 = 1 - T / (2 n_a)).
        dev = (1.0 - t_pos / (2.0 * n_a)) - np.take(a_col, cls)
        b_big = others & (cnt > 1)
        root = np.sqrt(np.where(b_big, cnt * (cnt - 1.0), 1.0))
        half_inv_n = np.where(others, 0.5 / np.maximum(cnt, 1), 0.0)
        for w, psi in zip(self.w_pair, self.psi_ovo, strict=True):
            wa = w[a]
            # Negatives (class b, pair defined): w_ab (V01 - A(a|b)) / sqrt(n_b (n_b - 1)).
            contrib = np.take(np.where(b_big, wa, 0.0) / root, cls) * dev
            if n_a > 1:
                # Positives (class a): Σ_b w_ab (V10_{a|b} - A(a|b)) / sqrt(n_a (n_a - 1)), with
                # Σ_b w_ab V10_{a|b} = S(strictly below) + S(at or below) over the weights below.
                s = np.cumsum(np.take(wa * half_inv_n, cls))
                if col.gid is None:
                    # One example per group, and class a weighs 0: below == through there.
                    both = s + s
                else:
                    s_through = col.at_group_ends(s)
                    both = np.r_[0.0, s_through[:-1]] + s_through
                pos_g = (both - float(wa @ a_col)) / math.sqrt(n_a * (n_a - 1.0))
                contrib = np.where(own.is_pos, col.per_position(pos_g), contrib)
            psi += col.to_examples(contrib)

    def ovr(self) -> tuple[F, F, F]:
        """``(auc_c, psi_macro, psi_weighted)``; ``auc_c`` is NaN for undefined classes."""
        return self.aucs, self.psi_ovr[0], self.psi_ovr[1]

    def ovo(self) -> tuple[float, float, F, F, list[tuple[int, int]]]:
        """``(macro, weighted, psi_macro, psi_weighted, undefined_pairs)``."""
        if not self.pairs:
            return math.nan, math.nan, self.psi_ovo[0], self.psi_ovo[1], self.undefined
        scores = np.array([(self.a_ovo[a, b] + self.a_ovo[b, a]) / 2.0 for a, b in self.pairs])
        macro = float(scores.mean())
        weighted = float((scores * self.prev).sum() / self.prev.sum())
        return macro, weighted, self.psi_ovo[0], self.psi_ovo[1], self.undefined


def average_precision_exact(own: OwnClass, descending: tuple[F, F] | None = None) -> float:
    """Average precision ``Σ_t (R_t - R_{t-1}) P_t`` over distinct thresholds, descending.

    ``descending`` is ``own.descending()`` when the caller already has it. NaN when there is no
    positive example.
    """
    pos = own.pos_g[::-1]
    m = pos.sum()
    if m == 0:
        return math.nan
    tps, fps = own.descending() if descending is None else descending
    prec = tps / (tps + fps)
    return float((pos / m * prec).sum())


def binned_codes(col: SortedColumn, n_bins: int) -> Idx:
    """Quantile bin (0 = lowest scores) of each example; tied scores share a bin."""
    n = len(col.order)
    out = np.empty(n, dtype=np.intp)
    out[col.order] = col.per_position((col.starts * n_bins) // max(n, 1))
    return out


def average_precision_binned(pos: F, neg: F) -> F:
    """Average precision from per-bin positive/negative counts, shape ``(..., n_bins)`` with bin 0
    the lowest scores; each bin acts as one threshold group. NaN where there are no positives."""
    pos = pos[..., ::-1]
    neg = neg[..., ::-1]
    m = pos.sum(axis=-1)
    tps = np.cumsum(pos, axis=-1)
    tot = tps + np.cumsum(neg, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tot > 0, tps / np.where(tot > 0, tot, 1.0), 0.0)
        ap = (pos * prec).sum(axis=-1) / m
    return np.where(m > 0, ap, np.nan)


def curve_tables(
    col: SortedColumn, own: OwnClass, max_points: int, descending: tuple[F, F] | None = None
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """ROC and precision-recall curves of class ``own.c``, thinned to ``max_points`` each.

    Both have one point per distinct threshold, descending, from threshold ``+inf``; a point at
    threshold ``t`` counts ``score >= t`` as positive. ROC starts at ``(0, 0)``, PR at
    ``(recall 0, precision 1)``. Thinning keeps points evenly spaced along the arc length
    (``downsample_keep``); only the kept thresholds are materialised.
    """
    tps, fps = own.descending() if descending is None else descending
    return curves_from_counts(tps, fps, col.group_scores(), max_points)


def curves_from_counts(
    tps: F, fps: F, group_scores: F, max_points: int
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """ROC and PR curve tables (see :func:`curve_tables`) from the cumulative positives ``tps``
    and negatives ``fps`` at ``score >= t`` over the threshold groups in descending order, and the
    threshold of each group in ascending order (``group_scores``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.r_[0.0, tps] / tps[-1]  # NaN throughout when there is no positive
        fpr = np.r_[0.0, fps] / fps[-1]
        precision = np.r_[1.0, tps / (tps + fps)]
    recall = tpr  # r_[0, tps / tps[-1]], which differs from tpr only in a NaN first point
    if tps[-1] == 0:
        recall = tpr.copy()
        recall[0] = 0.0

    def table(names: tuple[str, str], xs: F, ys: F) -> dict[str, list[Any]]:
        keep = downsample_keep(xs, ys, max_points)
        # Threshold of point i > 0 is the score of group G - i (groups ascending).
        thr = np.where(keep == 0, np.inf, group_scores[len(group_scores) - np.maximum(keep, 1)])
        vals = {"fpr": fpr, "tpr": tpr, "precision": precision, "recall": recall}
        return {
            names[0]: to_json_list(vals[names[0]][keep]),
            names[1]: to_json_list(vals[names[1]][keep]),
            "thresholds": to_json_list(thr),
        }

    return table(("fpr", "tpr"), fpr, tpr), table(("precision", "recall"), recall, precision)


def downsample_keep(x: F, y: F, max_points: int) -> Idx:
    """Indices of at most ``max_points`` points, evenly spaced along the curve's arc length.

    The first and last points are always kept, so the curve keeps its endpoints and shape;
    non-finite coordinates count as 0 for the arc length.
    """
    n = len(x)
    if n <= max_points or max_points < 2:
        return np.arange(n)
    xs = x if np.isfinite(x).all() else np.nan_to_num(x)
    ys = y if np.isfinite(y).all() else np.nan_to_num(y)
    arc = np.empty(n)
    arc[0] = 0.0
    np.cumsum(np.hypot(xs[1:] - xs[:-1], ys[1:] - ys[:-1]), out=arc[1:])
    if arc[-1] > 0:
        inner = np.searchsorted(arc, np.linspace(0.0, arc[-1], max_points)[1:-1], "left")
    else:
        inner = np.linspace(0, n - 1, max_points)[1:-1].round().astype(np.intp)
    keep: Idx = np.unique(np.r_[0, inner.clip(0, n - 1), n - 1])
    return keep


def curves_by_class(
    curves: list[tuple[Any, Any]], labels: list[Any], *, binary: bool
) -> dict[str, Any]:
    """``roc_curve`` and ``pr_curve`` tables: the one pair of a binary problem, or one per class
    (keyed by ``label_key``) from ``curves`` in label order."""
    if binary:
        return {"roc_curve": curves[0][0], "pr_curve": curves[0][1]}
    keys = [label_key(label) for label in labels]
    return {
        "roc_curve": {key: c[0] for key, c in zip(keys, curves, strict=True)},
        "pr_curve": {key: c[1] for key, c in zip(keys, curves, strict=True)},
    }


def to_json_list(values: F) -> list[Any]:
    """A float array as a list with non-finite values replaced by ``None``."""
    out: list[Any] = values.tolist()
    if not np.isfinite(values).all():
        out = [v if math.isfinite(v) else None for v in out]
    return out
