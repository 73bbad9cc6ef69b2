"""``classification_summary``: every single-label classification metric with its interval."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.errors import MetricError
from assay.metrics._count_summary import count_estimates
from assay.metrics._function_metrics import function_estimates
from assay.metrics._proba_summary import check_proba, proba_estimates
from assay.metrics._validation import check_labels, check_same_length, encode_labels
from assay.stats._estimate import Estimate
from assay.stats._policy import ZeroDivision, check_zero_division, report_undefined
from assay.stats._random import Seed, as_generator
from assay.stats._wilson import check_level

__all__ = ["ClassificationSummary", "classification_summary", "summary_from_counts"]


@dataclass(frozen=True)
class ClassificationSummary:
    """Metrics with intervals plus JSON-ready tables for one classification evaluation.

    Attributes:
        metrics: metric name → ``Estimate`` (see ``classification_summary`` for the names).
        tables: JSON-ready tables (``labels``, ``confusion_matrix``, curves, ``reliability``).
        n: number of examples.
    """

    metrics: dict[str, Estimate]
    tables: dict[str, Any] = field(default_factory=dict)
    n: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``{"n", "metrics": {name: Estimate.to_dict()}, "tables"}``."""
        return {
            "n": self.n,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "tables": self.tables,
        }


def _check_common(level: float, n_bootstrap: int, zero_division: str) -> ZeroDivision:
    check_level(level)
    if not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 0:
        raise MetricError(f"n_bootstrap must be a non-negative int; got {n_bootstrap!r}")
    return check_zero_division(zero_division)


def _positive_index(labels: list[Any], positive_label: Any) -> int | None:
    if len(labels) != 2:
        if positive_label is not None:
            raise MetricError(
                f"positive_label applies to binary problems only; labels has {len(labels)} classes"
            )
        return None
    if positive_label is None:
        return 1
    if positive_label not in labels:
        raise MetricError(f"positive_label={positive_label!r} is not one of labels={labels!r}")
    return labels.index(positive_label)


def summary_from_counts(
    cm: NDArray[np.int64],
    labels: Sequence[Any],
    *,
    positive_label: Any = None,
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: Seed = None,
    zero_division: ZeroDivision = "warn",
) -> ClassificationSummary:
    """``classification_summary`` without probabilities, from a confusion matrix.

    Args:
        cm: ``(k, k)`` non-negative integer counts, rows = true, columns = predicted.
        labels: the ``k`` class labels in row / column order.
        positive_label: see ``classification_summary``.
        level: confidence level.
        n_bootstrap: number of bootstrap resamples of the counts.
        seed: the bootstrap's randomness, a :data:`assay.stats.Seed` (an int, a generator, a
            ``SeedSequence`` or ``None``).
        zero_division: policy for undefined metrics.

    Returns:
        A ``ClassificationSummary`` with the count-based metrics and the confusion-matrix table.
    """
    policy = _check_common(level, n_bootstrap, zero_division)
    labs = check_labels(labels)
    counts = np.asarray(cm)
    k = len(labs)
    if counts.shape != (k, k) or (counts < 0).any() or not np.all(counts == np.round(counts)):
        raise MetricError(
            f"cm must be a ({k}, {k}) matrix of non-negative integer counts; "
            f"got shape {counts.shape}"
        )
    counts = counts.astype(np.int64)
    if counts.sum() == 0:
        raise MetricError("no examples: the confusion matrix is empty")
    metrics, messages = count_estimates(
        counts,
        labs,
        positive=_positive_index(labs, positive_label),
        level=level,
        n_bootstrap=int(n_bootstrap),
        rng=as_generator(seed),
    )
    report_undefined(messages, policy)
    tables = {"labels": labs, "confusion_matrix": counts.tolist()}
    return ClassificationSummary(metrics, tables, int(counts.sum()))


def classification_summary(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    labels: Sequence[Any],
    proba: ArrayLike | None = None,
    positive_label: Any = None,
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: Seed = None,
    zero_division: ZeroDivision = "warn",
    curve_points: int = 200,
    n_bins: int = 10,
) -> ClassificationSummary:
    """Every single-label classification metric, each with a confidence interval.

    Metric names (``summary.metrics``): ``accuracy``, ``balanced_accuracy`` (mean recall),
    ``precision|recall|f1_macro`` (unweighted class mean), ``..._micro`` (pooled counts; equal to
    accuracy), ``..._weighted`` (support-weighted mean), ``specificity_macro``, ``mcc``
    (multiclass Matthews correlation), ``cohen_kappa``, and ``per_class.<label>.precision``,
    ``.recall``, ``.f1``, ``.specificity``, ``.support``. Binary problems add ``precision``,
    ``recall``, ``f1``, ``specificity`` of the positive label. With ``proba``: binary ``roc_auc``,
    ``average_precision``; multiclass ``roc_auc_ovr_macro``, ``roc_auc_ovr_weighted``,
    ``roc_auc_ovo_macro``, ``roc_auc_ovo_weighted`` (Hand & Till), ``average_precision_macro``;
    both ``log_loss``, ``brier``, ``ece`` (definitions in ``assay.metrics._calibration``); and
    every catalogued metric with a function of its own that applies (``assay.metrics._catalog``).
    Averages over classes skip classes whose value is undefined.

    Intervals: Wilson for proportions, a bootstrap over confusion-matrix counts for the other
    count metrics, DeLong for AUCs, a block bootstrap for the probability metrics (details in
    ``assay.metrics._count_summary`` and ``assay.metrics._proba_summary``).

    Args:
        y_true: true labels, every value in ``labels``.
        y_pred: predicted labels, every value in ``labels``.
        labels: the class labels; fixes the order of tables and of ``proba`` columns.
        proba: optional ``(n, k)`` class probabilities, columns in ``labels`` order.
        positive_label: the positive class of a binary problem (default ``labels[1]``).
        level: confidence level of every interval.
        n_bootstrap: bootstrap resamples (0 disables the bootstrap intervals).
        seed: the bootstrap's randomness, a :data:`assay.stats.Seed` (an int, a generator, a
            ``SeedSequence`` or ``None``).
        zero_division: ``"warn"`` (NaN plus one ``UndefinedMetricWarning``), ``"nan"`` or
            ``"raise"`` (``MetricError``) for undefined metrics.
        curve_points: maximum points kept per ROC / PR curve.
        n_bins: equal-width confidence bins for ECE and the reliability table.

    Returns:
        ``ClassificationSummary(metrics, tables, n)``.

    Raises:
        MetricError: on a label outside ``labels`` (naming value and position), mismatched
            lengths, an invalid ``proba``, or an undefined metric with ``zero_division="raise"``.

    Example:
        >>> s = classification_summary(["a", "b", "b", "a"], ["a", "b", "a", "a"],
        ...                            labels=["a", "b"], seed=0)
        >>> s.metrics["accuracy"].value
        0.75
    """
    policy = _check_common(level, n_bootstrap, zero_division)
    if not isinstance(curve_points, (int, np.integer)) or curve_points < 2:
        raise MetricError(f"curve_points must be an int >= 2; got {curve_points!r}")
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise MetricError(f"n_bins must be a positive int; got {n_bins!r}")
    labs = check_labels(labels)
    k = len(labs)
    t = encode_labels(y_true, labs, name="y_true")
    p = encode_labels(y_pred, labs, name="y_pred")
    check_same_length(len(t), y_pred=p)
    n = len(t)
    if n == 0:
        raise MetricError("y_true is empty; at least one example is needed")
    positive = _positive_index(labs, positive_label)
    rng = as_generator(seed)
    cm = np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)
    metrics, messages = count_estimates(
        cm, labs, positive=positive, level=level, n_bootstrap=int(n_bootstrap), rng=rng
    )
    tables: dict[str, Any] = {"labels": labs, "confusion_matrix": cm.tolist()}
    pr = check_proba(proba, n, k) if proba is not None else None
    if pr is not None:
        more, more_tables, more_msgs = proba_estimates(
            pr,
            t,
            labs,
            positive=positive,
            level=level,
            n_bootstrap=int(n_bootstrap),
            rng=rng,
            curve_points=int(curve_points),
            n_bins=int(n_bins),
        )
        metrics.update(more)
        tables.update(more_tables)
        messages.extend(more_msgs)
    # Last, so that the group computations above draw the same random numbers as without them.
    metrics.update(
        function_estimates(
            "classification",
            t,
            p,
            labels=list(range(k)),
            proba=pr,
            level=level,
            n_bootstrap=int(n_bootstrap),
            rng=rng,
        )
    )
    report_undefined(messages, policy)
    return ClassificationSummary(metrics, tables, n)


def _nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else x
