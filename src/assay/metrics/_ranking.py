"""Ranking metrics from scores: ROC/PR curves, ROC-AUC (one-vs-rest, one-vs-one) with DeLong-style
variances, and average precision.

Each score column is sorted once (``SortedColumn``); the curves, the AUCs and the binned counts used
by the average-precision bootstrap are all read off that one ordering.

Multiclass AUC intervals: every averaged AUC (OVR macro/weighted, OVO macro/weighted) is a linear
combination ``Σ_c w_c A_c`` of binary AUCs computed on the same examples. Each binary AUC has
DeLong's structural components, which give every example an influence on it
(``(V10_i - A)/sqrt(m(m-1))`` for a positive, ``(V01_j - A)/sqrt(n(n-1))`` for a negative; for one
AUC the sum of squares is exactly DeLong's variance). The influences are added per example over the
combination, so the covariance between the binary AUCs is accounted for, and the variance of the
average is the sum of squared per-example influences. The interval is then logit-transformed like
the binary one (``assay.stats.delong_auc``). The OVR weights (class prevalences) are treated as
fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.stats._delong import delong_components

__all__ = [
    "SortedColumn",
    "average_precision_binned",
    "average_precision_exact",
    "binned_codes",
    "downsample_curve",
    "ovo_auc",
    "ovr_auc",
    "pr_curve",
    "roc_curve",
    "to_json_list",
]

F = NDArray[np.float64]
Idx = NDArray[np.intp]


@dataclass(frozen=True)
class SortedColumn:
    """One score column sorted ascending, with the tie groups and the class of each position."""

    order: Idx  # example index at each sorted position
    scores: F  # sorted scores
    classes: Idx  # class code at each sorted position
    gid: Idx  # tie-group id at each sorted position (equal scores share an id)
    n_groups: int

    @classmethod
    def build(cls, scores: F, codes: Idx) -> SortedColumn:
        order = np.argsort(scores)  # ties are grouped below, so stability is not needed
        s = scores[order]
        new = np.empty(len(s), dtype=bool)
        if len(s):
            new[0] = True
            np.not_equal(s[1:], s[:-1], out=new[1:])
        gid = np.cumsum(new, dtype=np.intp) - 1
        return cls(order, s, codes[order], gid, int(gid[-1]) + 1 if len(s) else 0)

    def group_counts(self, is_pos: NDArray[np.bool_]) -> tuple[F, F]:
        """Positives and negatives per tie group (ascending score order)."""
        pos: F = np.bincount(self.gid, weights=is_pos, minlength=self.n_groups).astype(np.float64)
        tot: F = np.bincount(self.gid, minlength=self.n_groups).astype(np.float64)
        return pos, tot - pos

    def group_scores(self) -> F:
        starts = np.flatnonzero(np.r_[True, self.gid[1:] != self.gid[:-1]])
        return self.scores[starts]


def _influence(
    psi: F, idx_pos: Idx, v10: F, idx_neg: Idx, v01: F, auc: float, weight: float
) -> None:
    m, n = len(v10), len(v01)
    if m > 1:
        psi[idx_pos] += weight * (v10 - auc) / math.sqrt(m * (m - 1))
    if n > 1:
        psi[idx_neg] += weight * (v01 - auc) / math.sqrt(n * (n - 1))


def ovr_auc(
    cols: list[SortedColumn], n_classes: int, n: int
) -> tuple[F, F, F, F]:
    """One-vs-rest AUC per class and the per-example influences for the macro/weighted averages.

    Returns:
        ``(auc_c, support_c, psi_macro, psi_weighted)``; ``auc_c`` is NaN where a class is absent
        or is every example. The influences are scaled for the averages over the defined classes.
    """
    aucs = np.full(n_classes, np.nan)
    support = np.zeros(n_classes)
    comps: list[tuple[int, F]] = []  # (class, centred influence in sorted order, unit weight)
    for c, col in enumerate(cols):
        is_pos = col.classes == c
        pos_g, neg_g = col.group_counts(is_pos)
        m, nn = pos_g.sum(), neg_g.sum()
        support[c] = m
        if m == 0 or nn == 0:
            continue
        # Structural components per tie group: negatives below (+½ tied), positives above (+½).
        v10_g = (np.cumsum(neg_g) - 0.5 * neg_g) / nn
        v01_g = (m - np.cumsum(pos_g) + 0.5 * pos_g) / m
        auc = float((pos_g * v10_g).sum() / m)
        aucs[c] = auc
        infl = np.where(
            is_pos,
            (v10_g[col.gid] - auc) / math.sqrt(m * (m - 1)) if m > 1 else 0.0,
            (v01_g[col.gid] - auc) / math.sqrt(nn * (nn - 1)) if nn > 1 else 0.0,
        )
        comps.append((c, infl))
    psi = np.zeros((n, 2))
    defined = ~np.isnan(aucs)
    if defined.any():
        wsum = support[defined].sum()
        for c, infl in comps:
            w = np.array([1.0 / defined.sum(), support[c] / wsum])
            psi[cols[c].order] += infl[:, None] * w
    return aucs, support, psi[:, 0], psi[:, 1]


def ovo_auc(
    cols: list[SortedColumn], n_classes: int, n: int
) -> tuple[float, float, F, F, list[tuple[int, int]]]:
    """One-vs-one AUC averages (Hand & Till): each pair scores ``(A(a|b) + A(b|a)) / 2``.

    ``A(a|b)`` uses column ``a`` on the examples of classes ``a`` and ``b``. Macro averages the
    pairs; weighted weights a pair by the fraction of examples in its two classes.

    Returns:
        ``(macro, weighted, psi_macro, psi_weighted, undefined_pairs)``.
    """
    positions = [[np.flatnonzero(col.classes == c) for c in range(n_classes)] for col in cols]
    counts = np.array([len(x) for x in positions[0]]) if n_classes else np.zeros(0)
    pairs = [
        (a, b)
        for a in range(n_classes)
        for b in range(a + 1, n_classes)
        if counts[a] > 0 and counts[b] > 0
    ]
    undefined = [
        (a, b)
        for a in range(n_classes)
        for b in range(a + 1, n_classes)
        if not (counts[a] > 0 and counts[b] > 0)
    ]
    psi_macro = np.zeros(n)
    psi_weighted = np.zeros(n)
    if not pairs:
        return math.nan, math.nan, psi_macro, psi_weighted, undefined
    prev = np.array([(counts[a] + counts[b]) / n for a, b in pairs])
    w_macro = 1.0 / (2 * len(pairs))
    w_weighted = prev / (2.0 * prev.sum())
    scores = np.empty(len(pairs))
    for i, (a, b) in enumerate(pairs):
        total = 0.0
        for x, y in ((a, b), (b, a)):
            col = cols[x]
            px, py = positions[x][x], positions[x][y]
            auc, v10, v01 = delong_components(
                col.gid[px].astype(np.float64), col.gid[py].astype(np.float64)
            )
            total += auc
            ip, ineg = col.order[px], col.order[py]
            _influence(psi_macro, ip, v10, ineg, v01, auc, w_macro)
            _influence(psi_weighted, ip, v10, ineg, v01, auc, float(w_weighted[i]))
        scores[i] = total / 2.0
    macro = float(scores.mean())
    weighted = float((scores * prev).sum() / prev.sum())
    return macro, weighted, psi_macro, psi_weighted, undefined


def roc_curve(col: SortedColumn, is_pos: NDArray[np.bool_]) -> dict[str, F]:
    """ROC points at every distinct threshold, from ``(0, 0)`` (threshold ``+inf``).

    A point at threshold ``t`` counts ``score >= t`` as positive.
    """
    pos, neg = col.group_counts(is_pos)
    tps = np.r_[0.0, np.cumsum(pos[::-1])]
    fps = np.r_[0.0, np.cumsum(neg[::-1])]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tps / tps[-1]
        fpr = fps / fps[-1]
    thr = np.r_[np.inf, col.group_scores()[::-1]]
    return {"fpr": fpr, "tpr": tpr, "thresholds": thr}


def pr_curve(col: SortedColumn, is_pos: NDArray[np.bool_]) -> dict[str, F]:
    """Precision-recall points at every distinct threshold, from ``(recall 0, precision 1)``."""
    pos, neg = col.group_counts(is_pos)
    tps = np.cumsum(pos[::-1])
    fps = np.cumsum(neg[::-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.r_[1.0, tps / (tps + fps)]
        recall = np.r_[0.0, tps / tps[-1]] if len(tps) else np.zeros(1)
    thr = np.r_[np.inf, col.group_scores()[::-1]]
    return {"precision": precision, "recall": recall, "thresholds": thr}


def average_precision_exact(col: SortedColumn, is_pos: NDArray[np.bool_]) -> float:
    """Average precision ``Σ_t (R_t - R_{t-1}) P_t`` over distinct thresholds, descending.

    NaN when there is no positive example.
    """
    pos, neg = col.group_counts(is_pos)
    pos, neg = pos[::-1], neg[::-1]
    m = pos.sum()
    if m == 0:
        return math.nan
    tps = np.cumsum(pos)
    prec = tps / (tps + np.cumsum(neg))
    return float((pos / m * prec).sum())


def binned_codes(col: SortedColumn, n_bins: int) -> Idx:
    """Quantile bin (0 = lowest scores) of each example; tied scores share a bin."""
    n = len(col.order)
    starts = np.flatnonzero(np.r_[True, col.gid[1:] != col.gid[:-1]])
    bins_sorted = (starts[col.gid] * n_bins) // max(n, 1)
    out = np.empty(n, dtype=np.intp)
    out[col.order] = bins_sorted
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


def downsample_curve(curve: dict[str, F], x: str, y: str, max_points: int) -> dict[str, list[Any]]:
    """Keep at most ``max_points`` points, evenly spaced along the curve's arc length, as lists.

    The first and last points are always kept, so the curve keeps its endpoints and shape.
    Non-finite values (the ``+inf`` first threshold, undefined rates) become ``None``.
    """
    n = len(curve[x])
    keep: Idx = np.arange(n)
    if n > max_points >= 2:
        xs = np.nan_to_num(curve[x])
        ys = np.nan_to_num(curve[y])
        arc = np.r_[0.0, np.cumsum(np.hypot(np.diff(xs), np.diff(ys)))]
        if arc[-1] > 0:
            inner = np.searchsorted(arc, np.linspace(0.0, arc[-1], max_points)[1:-1], "left")
        else:
            inner = np.linspace(0, n - 1, max_points)[1:-1].round().astype(np.intp)
        keep = np.unique(np.r_[0, inner.clip(0, n - 1), n - 1])
    return {key: to_json_list(vals[keep]) for key, vals in curve.items()}


def to_json_list(values: F) -> list[Any]:
    """A float array as a list with non-finite values replaced by ``None``."""
    out: list[Any] = values.tolist()
    if not np.isfinite(values).all():
        out = [v if math.isfinite(v) else None for v in out]
    return out
