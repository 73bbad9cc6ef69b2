"""Classification metrics as vectorised functions of confusion matrices.

Every function takes ``cm`` of shape ``(..., k, k)`` (rows = true class, columns = predicted class)
and returns arrays over the leading axes, so the same code gives the point estimate (one matrix) and
all bootstrap resamples (``(B, k, k)``) at once. Undefined values (zero denominators) are NaN;
averages over classes skip NaN classes (scikit-learn's ``zero_division=np.nan`` convention).

Definitions, with ``tp_c`` the diagonal, ``t_c`` the row sums (support), ``p_c`` the column sums
(predicted), ``n`` the total:

* precision_c = tp_c / p_c, recall_c = tp_c / t_c, f1_c = 2 tp_c / (t_c + p_c),
  specificity_c = tn_c / (n - t_c) with tn_c = n - t_c - p_c + tp_c;
* macro = unweighted mean over defined classes; weighted = mean weighted by t_c over defined
  classes; micro precision = recall = F1 = Σ tp_c / n (= accuracy for single-label data);
* balanced_accuracy = macro recall; accuracy = Σ tp_c / n;
* mcc = (n Σtp - Σ p_c t_c) / sqrt((n² - Σ p_c²)(n² - Σ t_c²)) (Gorodkin's R_k);
* cohen_kappa = (p_o - p_e) / (1 - p_e), p_o = Σ tp_c / n, p_e = Σ t_c p_c / n².
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

__all__ = ["count_metrics", "nan_mean", "nan_weighted_mean"]

F = NDArray[np.float64]


def _div(a: F, b: F) -> F:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)


def nan_mean(x: F) -> F:
    """Mean over the last axis skipping NaN; NaN when all are NaN (no warning)."""
    ok = ~np.isnan(x)
    cnt = ok.sum(axis=-1)
    total = np.where(ok, x, 0.0).sum(axis=-1)
    return _div(total, cnt.astype(np.float64))


def nan_weighted_mean(x: F, w: F) -> F:
    """Weighted mean over the last axis, dropping NaN entries and their weights."""
    ok = ~np.isnan(x)
    ww = np.where(ok, w, 0.0)
    return _div((np.where(ok, x, 0.0) * ww).sum(axis=-1), ww.sum(axis=-1))


def count_metrics(cm: NDArray[np.floating] | NDArray[np.integer]) -> dict[str, F]:
    """All count-based metrics of ``cm`` (shape ``(..., k, k)``).

    Returns:
        A dict with scalar-per-matrix entries (``accuracy``, ``precision_macro``, ...) of shape
        ``cm.shape[:-2]`` and per-class entries (``precision_c``, ``recall_c``, ``f1_c``,
        ``specificity_c``, ``support_c``) of shape ``cm.shape[:-1]``.
    """
    c = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    t = c.sum(axis=-1)
    p = c.sum(axis=-2)
    n = t.sum(axis=-1)
    n_ = n[..., None]
    tn = n_ - t - p + tp
    precision = _div(tp, p)
    recall = _div(tp, t)
    f1 = _div(2.0 * tp, t + p)
    specificity = _div(tn, n_ - t)
    correct = tp.sum(axis=-1)
    accuracy = _div(correct, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s_pt = (p * t).sum(axis=-1)
        mcc_den = np.sqrt((n * n - (p * p).sum(axis=-1)) * (n * n - (t * t).sum(axis=-1)))
    mcc = _div(n * correct - s_pt, mcc_den)
    pe = _div(s_pt, n * n)
    kappa = _div(accuracy - pe, 1.0 - pe)
    return {
        "accuracy": accuracy,
        "balanced_accuracy": nan_mean(recall),
        "precision_macro": nan_mean(precision),
        "recall_macro": nan_mean(recall),
        "f1_macro": nan_mean(f1),
        "precision_micro": accuracy,
        "recall_micro": accuracy,
        "f1_micro": accuracy,
        "precision_weighted": nan_weighted_mean(precision, t),
        "recall_weighted": nan_weighted_mean(recall, t),
        "f1_weighted": nan_weighted_mean(f1, t),
        "specificity_macro": nan_mean(specificity),
        "mcc": mcc,
        "cohen_kappa": kappa,
        "precision_c": precision,
        "recall_c": recall,
        "f1_c": f1,
        "specificity_c": specificity,
        "support_c": t,
        "predicted_c": p,
        "tp_c": tp,
        "tn_c": tn,
    }
