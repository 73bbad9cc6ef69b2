"""``multilabel_summary``: metrics for indicator matrices, with block-bootstrap intervals.

Definitions (``Y``, ``Ŷ`` are ``n × L`` 0/1 matrices; per label ``tp, fp, fn`` counts):

* ``subset_accuracy`` = fraction of rows predicted exactly; ``hamming_loss`` = fraction of wrong
  cells;
* ``precision|recall|f1_micro`` from the pooled counts; ``..._macro`` the mean over labels of the
  per-label values; ``..._weighted`` weighted by label support; ``..._samples`` the mean over
  examples of the per-example values (``|Y∩Ŷ| / |Ŷ|``, ``|Y∩Ŷ| / |Y|``, ``2|Y∩Ŷ| / (|Y|+|Ŷ|)``);
* ``per_label.<label>.precision|recall|f1|support``.

Undefined values (zero denominators) are NaN and are skipped by the averages (scikit-learn's
``zero_division=np.nan``). Intervals: Wilson for ``subset_accuracy`` and the per-label precision
and recall; the rest use the percentile bootstrap over random blocks of examples
(``assay.stats._bootstrap``), each block reduced to per-label ``tp, fp, fn`` and per-example sums.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.errors import MetricError
from assay.metrics._classification import ClassificationSummary
from assay.metrics._counts import nan_mean, nan_weighted_mean
from assay.metrics._validation import check_labels, label_key
from assay.stats._bootstrap import block_codes, block_multiplicities, block_sums, percentile_bounds
from assay.stats._estimate import Estimate
from assay.stats._policy import ZeroDivision, check_zero_division, report_undefined
from assay.stats._random import Seed, as_generator
from assay.stats._wilson import check_level, wilson_bounds

__all__ = ["multilabel_summary"]

MAX_BLOCKS = 2000
F = NDArray[np.float64]


def _div(a: F, b: F) -> F:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)


def _indicator(x: ArrayLike, name: str, n_labels: int) -> NDArray[np.bool_]:
    a = np.asarray(x)
    if a.ndim != 2 or a.shape[1] != n_labels:
        raise MetricError(
            f"{name} must have shape (n, {n_labels}) (one column per label); got {a.shape}"
        )
    bad = np.argwhere((a != 0) & (a != 1))
    if len(bad):
        i, j = (int(v) for v in bad[0])
        raise MetricError(
            f"{name}[{i}, {j}] = {a[i, j].item()!r}; an indicator matrix holds only 0 and 1"
        )
    return a.astype(bool)


def _from_sums(s: F, n_labels: int) -> dict[str, F]:
    L = n_labels
    tp, fp, fn = s[..., :L], s[..., L : 2 * L], s[..., 2 * L : 3 * L]
    cnt, exact, wrong = s[..., 3 * L], s[..., 3 * L + 1], s[..., 3 * L + 2]
    ps, pd, rs, rd, fs, fd = (s[..., 3 * L + 3 + i] for i in range(6))
    prec, rec, f1 = _div(tp, tp + fp), _div(tp, tp + fn), _div(2 * tp, 2 * tp + fp + fn)
    sup = tp + fn
    ttp, tfp, tfn = tp.sum(-1), fp.sum(-1), fn.sum(-1)
    return {
        "subset_accuracy": _div(exact, cnt),
        "hamming_loss": _div(wrong, cnt * L),
        "precision_micro": _div(ttp, ttp + tfp),
        "recall_micro": _div(ttp, ttp + tfn),
        "f1_micro": _div(2 * ttp, 2 * ttp + tfp + tfn),
        "precision_macro": nan_mean(prec),
        "recall_macro": nan_mean(rec),
        "f1_macro": nan_mean(f1),
        "precision_weighted": nan_weighted_mean(prec, sup),
        "recall_weighted": nan_weighted_mean(rec, sup),
        "f1_weighted": nan_weighted_mean(f1, sup),
        "precision_samples": _div(ps, pd),
        "recall_samples": _div(rs, rd),
        "f1_samples": _div(fs, fd),
        "f1_l": f1,
    }


def multilabel_summary(
    Y_true: ArrayLike,
    Y_pred: ArrayLike,
    *,
    labels: Sequence[Any],
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: Seed = None,
    zero_division: ZeroDivision = "warn",
) -> ClassificationSummary:
    """Multilabel metrics for indicator matrices, each with a confidence interval.

    Args:
        Y_true: ``(n, L)`` 0/1 truth, one column per label.
        Y_pred: ``(n, L)`` 0/1 predictions.
        labels: the ``L`` label names, in column order.
        level: confidence level.
        n_bootstrap: bootstrap resamples (0 disables the bootstrap intervals).
        seed: the bootstrap's randomness, a :data:`assay.stats.Seed` (an int, a generator, a
            ``SeedSequence`` or ``None``).
        zero_division: ``"warn"``, ``"nan"`` or ``"raise"`` for undefined metrics.

    Returns:
        ``ClassificationSummary`` with the metrics named in the module docstring and the table
        ``per_label_counts`` ({"labels", "tp", "fp", "fn"}).

    Raises:
        MetricError: on bad shapes or non-0/1 entries (naming the cell).

    Example:
        >>> s = multilabel_summary([[1, 0], [1, 1]], [[1, 0], [0, 1]], labels=["x", "y"],
        ...                        seed=0)
        >>> s.metrics["subset_accuracy"].value
        0.5
    """
    check_level(level)
    policy = check_zero_division(zero_division)
    labs = check_labels(labels)
    L = len(labs)
    yt = _indicator(Y_true, "Y_true", L)
    yp = _indicator(Y_pred, "Y_pred", L)
    if yt.shape != yp.shape:
        raise MetricError(f"Y_pred has {len(yp)} rows but Y_true has {len(yt)}; they must match")
    n = len(yt)
    if n == 0:
        raise MetricError("Y_true is empty; at least one example is needed")
    inter = (yt & yp).sum(1).astype(np.float64)
    nt, npred = yt.sum(1).astype(np.float64), yp.sum(1).astype(np.float64)
    p_i, r_i, f_i = _div(inter, npred), _div(inter, nt), _div(2 * inter, nt + npred)
    cols = np.column_stack(
        [
            yt & yp,
            ~yt & yp,
            yt & ~yp,
            np.ones(n),
            (yt == yp).all(1),
            (yt != yp).sum(1),
            *(x for v in (p_i, r_i, f_i) for x in (np.nan_to_num(v), ~np.isnan(v))),
        ]
    ).astype(np.float64)
    pt = _from_sums(cols.sum(0), L)
    method = "bootstrap" if n_bootstrap > 0 else "none"
    if n_bootstrap > 0:
        rng = as_generator(seed)
        blocks, g = block_codes(n, rng, max_blocks=MAX_BLOCKS)
        res = _from_sums(block_multiplicities(g, n_bootstrap, rng) @ block_sums(blocks, g, cols), L)
        bounds = {k: percentile_bounds(v, level) for k, v in res.items()}
    else:
        nan = np.full(L, np.nan)
        bounds = {k: (nan, nan) if k == "f1_l" else (nan[0], nan[0]) for k in pt}

    def est(v: Any, lo: Any, hi: Any, meth: str, m: int) -> Estimate:
        if math.isnan(float(v)):
            return Estimate(math.nan, math.nan, math.nan, level, meth, m)
        return Estimate(float(v), float(lo), float(hi), level, meth, m)

    metrics: dict[str, Estimate] = {}
    messages: list[str] = []
    exact = cols[:, 3 * L + 1].sum()
    lo, hi = wilson_bounds(exact, n, level=level)
    metrics["subset_accuracy"] = est(pt["subset_accuracy"], lo, hi, "wilson", n)
    for key in pt:
        if key not in ("subset_accuracy", "f1_l"):
            metrics[key] = est(pt[key], bounds[key][0], bounds[key][1], method, n)
            if not metrics[key].defined:
                messages.append(f"{key} (zero denominator)")
    tp, fp, fn = (cols[:, i * L : (i + 1) * L].sum(0) for i in range(3))
    for j, lab in enumerate(labs):
        key = f"per_label.{label_key(lab)}"
        for name, den in (("precision", tp[j] + fp[j]), ("recall", tp[j] + fn[j])):
            lo, hi = wilson_bounds(tp[j], den, level=level)
            metrics[f"{key}.{name}"] = est(_div(tp[j], den), lo, hi, "wilson", int(den))
            if den == 0:
                messages.append(f"{key}.{name} (zero denominator)")
        metrics[f"{key}.f1"] = est(
            pt["f1_l"][j], bounds["f1_l"][0][j], bounds["f1_l"][1][j], method, n
        )
        metrics[f"{key}.support"] = Estimate.point(float(tp[j] + fn[j]), n=n, level=level)
    report_undefined(messages, policy)
    tables = {
        "labels": labs,
        "per_label_counts": {
            "tp": tp.astype(int).tolist(),
            "fp": fp.astype(int).tolist(),
            "fn": fn.astype(int).tolist(),
        },
    }
    return ClassificationSummary(metrics, tables, n)
