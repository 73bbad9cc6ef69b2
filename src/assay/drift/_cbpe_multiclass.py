"""CBPE for a classifier with ``k`` classes: accuracy and macro averages without labels.

**Probabilities.** Each class's score is calibrated one-vs-rest on the labelled reference (an
isotonic map per class, with the binary rule of ``assay.drift._cbpe`` deciding per class whether
to calibrate), then each row's ``k`` calibrated values are divided by their sum (a row whose
values are all 0 gets ``1/k`` each) — NannyML's multiclass CBPE. Row ``i`` then has a calibrated
chance ``q[i, c]`` of belonging to class ``c``.

**Estimates.** With ``c_i`` the predicted class of row ``i``:

* accuracy = ``mean_i q[i, c_i]``;
* for each class ``c``, the one-vs-rest binary estimates of ``assay.drift._cbpe`` with ``q[:, c]``
  as the chance of a positive and "predicted ``c``" as the positive prediction: precision, recall
  and F1 from the expected one-vs-rest confusion matrix, ROC AUC from the expected ROC curve of
  the raw score of ``c``;
* ``precision_macro``, ``recall_macro``, ``f1_macro``, ``roc_auc_ovr_macro``: the unweighted mean
  over the classes where the value is defined (as ``assay.metrics`` averages realised metrics).

**Interval.** As in the binary case, ``value ± z·sd`` clipped to ``[0, 1]`` with two variances
added:

1. *The window's labels are random*: each row's label is one draw from ``Categorical(q[i])``.
   The realised metric is a function of the one-hot label matrix ``Y``; to first order it moves
   by ``Σ_i Σ_c G[i, c] (Y[i, c] - q[i, c])`` with ``G`` its derivative at ``Y = q``. Rows are
   independent and one row's one-hot entries have the multinomial covariance, so the variance is
   ``Σ_i (Σ_c q[i, c] G[i, c]² - (Σ_c q[i, c] G[i, c])²)`` (exact for accuracy, first order for
   the macro averages).
2. *The calibration is estimated*: every class's map is refitted on the same ``n_bootstrap``
   resamples of the reference rows, renormalised, and the spread of the window's estimate across
   the refits is added.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.drift._cbpe import (
    Calibration,
    Locator,
    MetricMoments,
    ScoreOrder,
    auc_gradient,
    fit_calibration,
    group_scores,
    refit_on_knots,
    resample_weights,
    score_order,
)
from assay.stats._random import Seed, as_generator

__all__ = [
    "MULTICLASS_METRICS",
    "MulticlassCalibration",
    "bootstrap_multiclass_calibrations",
    "expected_multiclass_metrics",
    "fit_multiclass_calibration",
]

F = NDArray[np.float64]
Codes = NDArray[np.intp]

#: The metrics CBPE estimates for a classifier with more than two classes, in display order
#: (named as in ``assay.metrics``: macro averages over the classes, one-vs-rest AUC).
MULTICLASS_METRICS: tuple[str, ...] = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc_ovr_macro",
)


@dataclass(frozen=True)
class MulticlassCalibration:
    """One score → probability map per class, and the renormalisation that joins them.

    Attributes:
        classes: the class labels, in the order of the score columns.
        per_class: each class's one-vs-rest :class:`Calibration`.
        requested: what was asked for: ``"auto"``, ``"isotonic"`` or ``"none"``.
    """

    classes: tuple[Any, ...]
    per_class: tuple[Calibration, ...]
    requested: str

    @property
    def method(self) -> str:
        """``"isotonic"`` when at least one class's scores are calibrated, else ``"none"``."""
        return "isotonic" if any(c.method == "isotonic" for c in self.per_class) else "none"

    def apply(self, scores: F) -> F:
        """Calibrated probabilities, ``(n, k)``, each row summing to 1."""
        q = np.column_stack([c.apply(scores[:, j]) for j, c in enumerate(self.per_class)])
        return _renormalise(q)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: method, what was requested, and each class's calibration."""
        return {
            "method": self.method,
            "requested": self.requested,
            "per_class": [
                {"class": _plain(label), **cal.to_dict()}
                for label, cal in zip(self.classes, self.per_class, strict=True)
            ],
        }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _renormalise(q: F) -> F:
    total = q.sum(axis=1, keepdims=True)
    uniform = np.full_like(q, 1.0 / q.shape[1])
    return np.divide(q, total, out=uniform, where=total > 0)


def fit_multiclass_calibration(
    scores: F,
    codes: Codes,
    classes: Sequence[Any],
    *,
    calibration: str = "auto",
    seed: Seed = None,
) -> MulticlassCalibration:
    """Fit one one-vs-rest map per class on labelled reference rows.

    Args:
        scores: ``(n, k)`` scores, one column per class (finite, in ``[0, 1]``).
        codes: each row's class as an index into ``classes``.
        classes: the class labels.
        calibration: ``"auto"`` (each class calibrated when that lowers its cross-validated
            calibration error), ``"isotonic"`` or ``"none"``.
        seed: the cross-validation folds' randomness.

    Returns:
        The fitted :class:`MulticlassCalibration`.

    Raises:
        ConfigError: an unknown ``calibration``.
        DataError: a class with no reference row (its map cannot be fitted).
    """
    rng = as_generator(seed)
    per_class = tuple(
        fit_calibration(
            scores[:, j], (codes == j).astype(np.float64), calibration=calibration, seed=rng
        )
        for j in range(len(classes))
    )
    return MulticlassCalibration(tuple(classes), per_class, calibration)


def bootstrap_multiclass_calibrations(
    scores: F,
    codes: Codes,
    calibration: MulticlassCalibration,
    *,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> list[F | None]:
    """Every calibrated class's map refitted on the same ``n_bootstrap`` reference resamples.

    Returns one entry per class: ``(n_bootstrap, knots)`` (the refits on that class's knots, as
    :func:`~assay.drift._cbpe.bootstrap_calibrations` returns them) or ``None`` for a class whose
    scores are used as they are. All ``None`` when nothing is calibrated or ``n_bootstrap`` is 0.
    """
    calibrated = [j for j, c in enumerate(calibration.per_class) if c.method == "isotonic"]
    out: list[F | None] = [None] * len(calibration.per_class)
    if not calibrated or n_bootstrap == 0:
        return out
    ys = {j: (codes == j).astype(np.float64) for j in calibrated}
    groups = {j: group_scores(scores[:, j], ys[j]) for j in calibrated}
    maps = {j: np.empty((n_bootstrap, len(groups[j].x))) for j in calibrated}
    n = len(codes)
    for b in range(n_bootstrap):
        weight = resample_weights(n, rng)
        for j in calibrated:
            maps[j][b] = refit_on_knots(groups[j], ys[j], weight)
    for j in calibrated:
        out[j] = maps[j]
    return out


def _ovr_count_gradients(q: F, onehot: NDArray[np.bool_]) -> dict[str, tuple[F, F, F]]:
    """Per class: (value, derivative for rows predicted that class, for the other rows).

    One-vs-rest counts of class ``c``: ``tp = Σ_{pred c} y_c``, ``fn = Σ_{pred not c} y_c``,
    ``n1`` rows predicted ``c``; the derivatives are those of each metric in ``tp`` and ``fn``.
    """
    n1 = onehot.sum(axis=0).astype(np.float64)
    tp = np.where(onehot, q, 0.0).sum(axis=0)
    fn = q.sum(axis=0) - tp
    pos = tp + fn
    den = n1 + pos  # 2TP + FP + FN
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_n1 = np.where(n1 > 0, 1.0 / n1, np.nan)
        return {
            "precision": (tp * inv_n1, inv_n1, np.zeros_like(tp)),
            "recall": (tp / pos, fn / pos**2, -tp / pos**2),
            "f1": (2.0 * tp / den, 2.0 * (n1 + fn) / den**2, -2.0 * tp / den**2),
        }


def _label_variance(q: F, grad: F) -> float:
    """Variance of ``Σ_i Σ_c grad[i, c] Y[i, c]`` when each row ``Y[i]`` is one-hot ~ ``q[i]``."""
    qg = q * grad
    return float(np.sum(qg * grad) - np.sum(qg.sum(axis=1) ** 2))


def _macro(values: F, grads: F | None) -> tuple[float, F | None]:
    """Mean over the defined classes, and the derivative of that mean (columns per class)."""
    ok = ~np.isnan(values)
    if not ok.any():
        return math.nan, None
    value = float(values[ok].mean())
    if grads is None:
        return value, None
    return value, np.where(ok[None, :], grads, 0.0) / ok.sum()


def _point(
    q: F,
    predicted: Codes,
    orders: list[ScoreOrder] | None,
    metrics: tuple[str, ...],
    *,
    with_variance: bool,
) -> dict[str, tuple[float, float]]:
    n, k = q.shape
    onehot = predicted[:, None] == np.arange(k)[None, :]
    out: dict[str, tuple[float, float]] = {}
    if "accuracy" in metrics:
        q_pred = q[np.arange(n), predicted]
        var = float(np.sum(q_pred * (1.0 - q_pred))) / n**2 if with_variance else math.nan
        out["accuracy"] = (float(q_pred.mean()), var)
    counts = [m for m in metrics if m in ("precision_macro", "recall_macro", "f1_macro")]
    if counts:
        per_class = _ovr_count_gradients(q, onehot)
        for m in counts:
            values, d_pred, d_other = per_class[m.removesuffix("_macro")]
            grads = np.where(onehot, d_pred[None, :], d_other[None, :]) if with_variance else None
            value, g = _macro(values, grads)
            out[m] = (value, _label_variance(q, g) if g is not None else math.nan)
    if orders is not None:
        aucs = np.empty(k)
        grads = np.zeros((n, k)) if with_variance else None
        for c, so in enumerate(orders):
            auc, d = auc_gradient(q[:, c], so, with_gradient=with_variance)
            aucs[c] = auc
            if grads is not None and d is not None:
                grads[so.order, c] = d
        value, g = _macro(aucs, grads)
        out["roc_auc_ovr_macro"] = (value, _label_variance(q, g) if g is not None else math.nan)
    return out


def expected_multiclass_metrics(
    scores: F,
    predicted: Codes,
    calibration: MulticlassCalibration,
    refits: Sequence[F | None],
    metrics: tuple[str, ...] = MULTICLASS_METRICS,
) -> dict[str, MetricMoments]:
    """CBPE estimates for one window of a multiclass classifier, each with both variances.

    Args:
        scores: the raw ``(n, k)`` scores of the window's rows (finite).
        predicted: each row's predicted class as an index into ``calibration.classes``.
        calibration: the fitted maps.
        refits: per class, the maps refitted on bootstrap resamples
            (:func:`bootstrap_multiclass_calibrations`).
        metrics: which of :data:`MULTICLASS_METRICS` to compute.

    Returns:
        metric name → :class:`~assay.drift._cbpe.MetricMoments`; NaN where no class defines a
        metric.
    """
    if len(scores) == 0:
        return {m: MetricMoments(math.nan, math.nan) for m in metrics}
    k = scores.shape[1]
    orders = (
        [score_order(scores[:, c]) for c in range(k)] if "roc_auc_ovr_macro" in metrics else None
    )
    main = _point(calibration.apply(scores), predicted, orders, metrics, with_variance=True)
    spread: dict[str, float] = dict.fromkeys(metrics, 0.0)
    n_refits = max((len(r) for r in refits if r is not None), default=0)
    if n_refits:
        where = [
            Locator.of(c.x, scores[:, j]) if refits[j] is not None else None
            for j, c in enumerate(calibration.per_class)
        ]
        values = np.empty((n_refits, len(metrics)))
        for b in range(n_refits):
            columns = []
            for j, c in enumerate(calibration.per_class):
                loc, maps = where[j], refits[j]
                columns.append(
                    loc.values(maps[b])
                    if loc is not None and maps is not None
                    else c.apply(scores[:, j])
                )
            q = _renormalise(np.column_stack(columns))
            refit = _point(q, predicted, orders, metrics, with_variance=False)
            values[b] = [refit[m][0] for m in metrics]
        with np.errstate(invalid="ignore"):
            sd = np.nanstd(values, axis=0, ddof=1) if n_refits > 1 else np.zeros(len(metrics))
        spread = {m: float(v) ** 2 for m, v in zip(metrics, sd, strict=True)}
    return {m: MetricMoments(main[m][0], main[m][1], spread[m]) for m in metrics}
