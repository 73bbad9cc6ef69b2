"""``estimate_performance``: a classifier's performance per window, before and after labels.

Before the labels arrive, each window gets the CBPE estimate of accuracy, precision, recall, F1 and
ROC AUC with an interval (``assay.drift._cbpe`` says how both are computed; with more than two
classes, accuracy and the macro averages of ``assay.drift._cbpe_multiclass``). Once labels arrive —
in the current table, or in a separate table joined by id — each window also gets the realised
metrics (Wilson intervals for proportions, a bootstrap over the confusion counts for F1 and the
macro averages, DeLong for AUC and DeLong influences for the one-vs-rest macro AUC), side by side with the estimate, and a window whose realised value falls outside the
estimate's interval is flagged: the estimate's assumptions (no concept drift, calibrated scores)
no longer hold there.

Nothing is dropped silently: current rows without a usable score are counted per window
(``n_unscored``), rows whose label has not arrived are counted too (``n`` minus ``n_labelled``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from assay.drift._cbpe import (
    ESTIMATED_METRICS,
    Calibration,
    MetricMoments,
    bootstrap_calibrations,
    expected_metrics,
    fit_calibration,
)
from assay.drift._cbpe_multiclass import MULTICLASS_METRICS, MulticlassCalibration
from assay.drift._performance_inputs import Problem, column, current_truth, scores
from assay.drift._performance_multiclass import multiclass_problem
from assay.drift._windows import Windows, tumbling_windows
from assay.errors import ConfigError, DataError
from assay.metrics._count_summary import count_estimates
from assay.stats._delong import delong_auc
from assay.stats._estimate import Estimate
from assay.stats._random import Seed, stream
from assay.stats._wilson import check_level, z_value

__all__ = ["ASSUMPTIONS", "PerformanceEstimate", "WindowPerformance", "estimate_performance"]

#: What every CBPE estimate assumes; carried in the result so that no reader misses it.
ASSUMPTIONS: tuple[str, ...] = (
    "no concept drift: the chance that a row is positive (of each class) given its score(s) is "
    "the same in the current data as in the reference (covariate shift is allowed)",
    "calibrated scores: after the calibration fitted on the reference, a score q means a share q "
    "of such rows is positive (of that class)",
)

INTERVAL_METHOD = (
    "normal interval value ± z·sd, clipped to [0, 1]; sd² = the variance of the realised metric "
    "when each row's label is drawn from its calibrated probability — with several classes, one "
    "categorical draw from the row's calibrated class probabilities — (delta method) + the "
    "variance of the estimate across isotonic calibrations refitted on bootstrap resamples of the "
    "reference"
)


@dataclass(frozen=True)
class WindowPerformance:
    """Estimated (and, once labels arrive, realised) performance of one window.

    Attributes:
        index: 0-based position of the window.
        label: how the window is shown (``"2016-01-01 .. 2017-01-01"``, ``"rows 1-5000"``).
        n: rows in the window.
        n_unscored: rows left out of the estimate because their score is missing or not finite
            (or their prediction is missing).
        n_labelled: scored rows whose label is known; realised metrics use these.
        estimated: metric → CBPE estimate with its interval (method ``"cbpe"``).
        realised: metric → realised value with its own interval; empty without labels.
        disagree: metrics whose realised value lies outside the estimate's interval.
    """

    index: int
    label: str
    n: int
    n_unscored: int
    n_labelled: int
    estimated: dict[str, Estimate]
    realised: dict[str, Estimate]
    disagree: tuple[str, ...]

    @property
    def alert(self) -> bool:
        """Whether realised and estimated performance disagree on any metric."""
        return bool(self.disagree)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as ``None``)."""
        return {
            "index": self.index,
            "label": self.label,
            "n": self.n,
            "n_unscored": self.n_unscored,
            "n_labelled": self.n_labelled,
            "estimated": {k: v.to_dict() for k, v in self.estimated.items()},
            "realised": {k: v.to_dict() for k, v in self.realised.items()},
            "disagree": list(self.disagree),
            "alert": self.alert,
        }


@dataclass(frozen=True)
class PerformanceEstimate:
    """Label-free performance estimates per window, and realised performance where labels exist.

    Attributes:
        metrics: the metrics estimated, in order.
        windows: one :class:`WindowPerformance` per window.
        reference: the realised metrics on the reference (what the model did when it was
            evaluated), with their intervals.
        calibration: the score → probability map fitted on the reference (one per class for a
            multiclass classifier).
        window_rule: how the current data was cut into windows.
        positive_label: the class the score is the probability of (``None`` for multiclass).
        n_reference: reference rows used.
        level: confidence level of every interval.
        classes: the class labels (binary: the negative one(s) first, the positive one last;
            multiclass: in the order of ``y_pred_proba``'s mapping).
        interval_method: how the estimates' intervals are computed, in words.
        assumptions: what the estimates assume (:data:`ASSUMPTIONS`).
    """

    metrics: tuple[str, ...]
    windows: tuple[WindowPerformance, ...]
    reference: dict[str, Estimate]
    calibration: Calibration | MulticlassCalibration
    window_rule: str
    positive_label: Any
    n_reference: int
    level: float
    classes: tuple[Any, ...] = ()
    interval_method: str = INTERVAL_METHOD
    assumptions: tuple[str, ...] = ASSUMPTIONS

    @property
    def n_alerts(self) -> int:
        """Windows whose realised performance disagrees with the estimate."""
        return sum(1 for w in self.windows if w.alert)

    @property
    def average(self) -> str:
        """``"binary"`` (metrics of the positive class) or ``"macro"`` (means over classes)."""
        return "macro" if isinstance(self.calibration, MulticlassCalibration) else "binary"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as ``None``)."""
        label = self.positive_label
        return {
            "method": "cbpe",
            "metrics": list(self.metrics),
            "positive_label": label.item() if isinstance(label, np.generic) else label,
            "average": self.average,
            "classes": [c.item() if isinstance(c, np.generic) else c for c in self.classes],
            "n_reference": self.n_reference,
            "level": self.level,
            "window_rule": self.window_rule,
            "calibration": self.calibration.to_dict(),
            "interval_method": self.interval_method,
            "assumptions": list(self.assumptions),
            "reference": {k: v.to_dict() for k, v in self.reference.items()},
            "windows": [w.to_dict() for w in self.windows],
            "n_alerts": self.n_alerts,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per window and metric: estimate, its bounds, realised value and bounds."""
        rows = []
        for w in self.windows:
            for m in self.metrics:
                e = w.estimated[m]
                r = w.realised.get(m)
                rows.append(
                    {
                        "window": w.label,
                        "metric": m,
                        "n": w.n,
                        "estimated": e.value,
                        "estimated_lower": e.lower,
                        "estimated_upper": e.upper,
                        "realised": r.value if r else math.nan,
                        "realised_lower": r.lower if r else math.nan,
                        "realised_upper": r.upper if r else math.nan,
                        "alert": m in w.disagree,
                    }
                )
        return pd.DataFrame(rows)


def _binary_labels(values: pd.Series, positive_label: Any) -> tuple[list[Any], Any]:
    seen = [v.item() if isinstance(v, np.generic) else v for v in pd.unique(values.dropna())]
    if positive_label is None:
        if len(seen) != 2:
            raise DataError(
                f"performance estimation: the reference labels hold {len(seen)} classes "
                f"({seen[:10]}); one score column is for a binary classifier: give a reference "
                "with two classes, or for more classes pass y_pred_proba={class: column} with "
                "each class's probability column"
            )
        if set(seen) <= {0, 1}:  # also True/False
            positive_label = 1 if 1 in seen else True
        else:
            raise ConfigError(
                f"performance estimation: the labels are {sorted(map(str, seen))}; say which "
                "one the score is the probability of with positive_label="
            )
    if positive_label not in seen:
        raise DataError(
            f"performance estimation: positive_label {positive_label!r} does not occur in the "
            f"reference labels {seen[:10]}; pass one of them"
        )
    negatives = [v for v in seen if v != positive_label]
    return [*negatives, positive_label], positive_label


def _predicted_positive(
    frame: pd.DataFrame,
    y_pred: str | None,
    scores: NDArray[np.float64],
    positive_label: Any,
    threshold: float,
    *,
    which: str,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(predicted positive, prediction known) per row."""
    if y_pred is None:
        return scores >= threshold, np.isfinite(scores)
    col = column(frame, y_pred, which=which, role="y_pred")
    known = col.notna().to_numpy()
    return (col == positive_label).to_numpy(dtype=bool, na_value=False), known


def _cut(
    current: pd.DataFrame,
    window: int | str | Windows | None,
    time_column: str | None,
) -> Windows:
    if isinstance(window, Windows):
        if window.n_rows != len(current):
            raise ConfigError(
                f"performance estimation: the windows were cut from {window.n_rows} rows but the "
                f"current data has {len(current)}; cut them from this table"
            )
        return window
    if window is None:
        if time_column is not None:
            raise ConfigError(
                "performance estimation: time_column needs window= a pandas period such as '7D'"
            )
        return tumbling_windows(len(current), size=max(len(current), 1))
    if isinstance(window, str):
        if time_column is None:
            raise ConfigError(
                f"performance estimation: window={window!r} is a period; name the column that "
                "holds each row's time with time_column="
            )
        return tumbling_windows(current, time_column=time_column, every=window)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise ConfigError(
            "performance estimation: window must be a number of rows, a pandas period with "
            f"time_column, or Windows; got {window!r}"
        )
    return tumbling_windows(len(current), size=int(window))


def _realised(
    truth: NDArray[np.bool_],
    predicted_positive: NDArray[np.bool_],
    scores: NDArray[np.float64],
    labels: list[Any],
    metrics: tuple[str, ...],
    level: float,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, Estimate]:
    if len(truth) == 0:
        return {}
    t, p = truth.astype(np.int64), predicted_positive.astype(np.int64)
    cm = np.bincount(t * 2 + p, minlength=4).reshape(2, 2)
    counts, _ = count_estimates(
        cm, labels, positive=1, level=level, n_bootstrap=n_bootstrap, rng=rng
    )
    out: dict[str, Estimate] = {}
    for m in metrics:
        if m == "roc_auc":
            out[m] = delong_auc(truth, scores, level=level, zero_division="nan")
        else:
            out[m] = counts[m]
    return out


def _estimate(moments: MetricMoments, n: int, level: float) -> Estimate:
    if math.isnan(moments.value):
        return Estimate(math.nan, math.nan, math.nan, level, "cbpe", n)
    half = z_value(level) * moments.sd
    lower = max(0.0, moments.value - half)
    upper = min(1.0, moments.value + half)
    return Estimate(moments.value, lower, upper, level, "cbpe", n)


def estimate_performance(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    y_true: str,
    y_pred_proba: str | Mapping[Any, str],
    y_pred: str | None = None,
    window: int | str | Windows | None = None,
    time_column: str | None = None,
    labels: pd.DataFrame | None = None,
    id_column: str | None = None,
    positive_label: Any = None,
    threshold: float = 0.5,
    metrics: Sequence[str] | None = None,
    calibration: str = "auto",
    level: float = 0.95,
    n_bootstrap: int = 100,
    seed: Seed = None,
) -> PerformanceEstimate:
    """Estimate a classifier's performance on current data that has no labels yet (CBPE).

    The reference (labelled, e.g. the evaluation set) fits a calibration of the scores; each window
    of the current data then gets accuracy, precision, recall, F1 and ROC AUC from its expected
    confusion matrix and expected ROC curve, with an interval for where the realised value should
    fall (see ``assay.drift._cbpe``). With more than two classes — ``y_pred_proba`` a mapping from
    each class to its probability column — it estimates accuracy and the macro averages
    ``precision_macro``, ``recall_macro``, ``f1_macro`` and ``roc_auc_ovr_macro`` instead
    (``assay.drift._cbpe_multiclass``). Where labels are known — a ``y_true`` column in ``current``,
    or ``labels`` joined on ``id_column`` — the realised metrics sit beside the estimates and a
    window whose realised value lies outside the estimate's interval is flagged.

    Args:
        reference: labelled rows with ``y_true``, ``y_pred_proba`` (and ``y_pred``).
        current: rows to estimate on, with ``y_pred_proba`` (and ``y_pred``).
        y_true: the label column (of ``reference``, and of ``current`` or ``labels`` if present).
        y_pred_proba: the column with the probability of the positive class; for more than two
            classes, a mapping ``{class label: column with its probability}`` naming every class.
        y_pred: the column with the predicted label; ``None`` predicts positive when
            ``y_pred_proba >= threshold`` (multiclass: the class with the highest score).
        window: ``None`` (all current rows in one window), a number of rows, a pandas period
            such as ``"7D"`` or ``"YS"`` with ``time_column``, or :class:`Windows`.
        time_column: the column holding each current row's time, for period windows.
        labels: labels that arrived later: a table with ``id_column`` and ``y_true``.
        id_column: the column joining ``labels`` to ``current``.
        positive_label: the class ``y_pred_proba`` is the probability of (default: 1 when the
            labels are 0/1); binary only.
        threshold: the decision threshold when ``y_pred`` is not given; binary only.
        metrics: which of ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc`` (binary,
            all by default) or of :data:`MULTICLASS_METRICS` (multiclass, all by default).
        calibration: ``"auto"`` (isotonic when it lowers the cross-validated calibration error
            on the reference), ``"isotonic"`` or ``"none"``.
        level: confidence level of every interval.
        n_bootstrap: refits of the calibration on bootstrap resamples of the reference (their
            spread widens the interval; 0 leaves it out), and resamples of the realised F1.
        seed: randomness of the cross-validation folds and the bootstraps.

    Returns:
        A :class:`PerformanceEstimate`.

    Raises:
        DataError: a missing column, a score outside [0, 1] or not a number, a reference that is
            not binary (with one score column) or has rows without a label or score, a label or
            prediction that is not one of the mapping's classes, a class with no reference row,
            labels without ``id_column``
            or with duplicate ids.
        ConfigError: an unknown metric or calibration, an impossible window, or
            ``positive_label`` with a multiclass mapping.

    Example:
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> p = rng.random(4000)
        >>> df = pd.DataFrame({"p": p, "y": (rng.random(4000) < p).astype(int)})
        >>> est = estimate_performance(df[:2000], df[2000:].drop(columns="y"), y_true="y",
        ...                            y_pred_proba="p", window=1000, seed=0)
        >>> [round(w.estimated["accuracy"].value, 2) for w in est.windows]
        [0.75, 0.75]
    """
    level = check_level(level)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ConfigError(f"n_bootstrap must be a whole number >= 0; got {n_bootstrap!r}")
    truth = current_truth(current, labels, y_true=y_true, id_column=id_column)
    if isinstance(y_pred_proba, Mapping):
        if positive_label is not None:
            raise ConfigError(
                "performance estimation: positive_label is for a binary classifier; with "
                "y_pred_proba a mapping of classes every class is scored, so leave it out"
            )
        problem = multiclass_problem(
            reference,
            current,
            truth,
            y_true=y_true,
            y_pred_proba=y_pred_proba,
            y_pred=y_pred,
            metrics=_wanted(metrics, MULTICLASS_METRICS),
            calibration=calibration,
            level=level,
            n_bootstrap=n_bootstrap,
            seed=seed,
        )
    else:
        problem = _binary_problem(
            reference,
            current,
            truth,
            y_true=y_true,
            y_pred_proba=y_pred_proba,
            y_pred=y_pred,
            positive_label=positive_label,
            threshold=threshold,
            metrics=_wanted(metrics, ESTIMATED_METRICS),
            calibration=calibration,
            level=level,
            n_bootstrap=n_bootstrap,
            seed=seed,
        )

    wanted = problem.metrics
    cut = _cut(current, window, time_column)
    out = []
    for w in cut:
        rows = w.rows[problem.scored[w.rows]]
        moments = problem.estimate(rows)
        estimated = {m: _estimate(moments[m], len(rows), level) for m in wanted}
        lab = w.rows[problem.labelled[w.rows]]
        realised = problem.realise(lab, stream(seed, "realised", str(w.index))) if len(lab) else {}
        disagree = tuple(
            m
            for m in wanted
            if m in realised
            and estimated[m].defined
            and realised[m].defined
            and not estimated[m].contains(realised[m].value)
        )
        out.append(
            WindowPerformance(
                index=w.index,
                label=w.label,
                n=w.n,
                n_unscored=w.n - len(rows),
                n_labelled=len(lab),
                estimated=estimated,
                realised=realised,
                disagree=disagree,
            )
        )
    return PerformanceEstimate(
        metrics=wanted,
        windows=tuple(out),
        reference=problem.reference,
        calibration=problem.calibration,
        window_rule=cut.rule,
        positive_label=problem.positive_label,
        n_reference=len(reference),
        level=level,
        classes=problem.classes,
    )


def _wanted(metrics: Sequence[str] | None, known: tuple[str, ...]) -> tuple[str, ...]:
    wanted = known if metrics is None else tuple(metrics)
    unknown = [m for m in wanted if m not in known]
    if unknown or not wanted:
        raise ConfigError(
            f"performance estimation: metrics {unknown or wanted!r} cannot be estimated for this "
            f"classifier; choose from {', '.join(known)}"
        )
    return wanted


def _binary_problem(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    truth: pd.Series,
    *,
    y_true: str,
    y_pred_proba: str,
    y_pred: str | None,
    positive_label: Any,
    threshold: float,
    metrics: tuple[str, ...],
    calibration: str,
    level: float,
    n_bootstrap: int,
    seed: Seed,
) -> Problem:
    # The reference: every row must carry a label and a score; a hole there is a data problem.
    ref_truth = column(reference, y_true, which="reference", role="y_true")
    classes, positive_label = _binary_labels(ref_truth, positive_label)
    ref_scores = scores(reference, y_pred_proba, which="reference")
    bad = np.flatnonzero(ref_truth.isna().to_numpy() | ~np.isfinite(ref_scores))
    if len(bad):
        raise DataError(
            f"performance estimation: reference row {int(bad[0]) + 1} has no label or no finite "
            f"score ({len(bad)} such rows); the calibration needs both on every reference row: "
            "drop those rows first"
        )
    ref_y = (ref_truth == positive_label).to_numpy(dtype=np.float64)
    cal = fit_calibration(ref_scores, ref_y, calibration=calibration, seed=stream(seed, "folds"))
    refits = bootstrap_calibrations(
        ref_scores, ref_y, cal, n_bootstrap=n_bootstrap, rng=stream(seed, "calibration")
    )
    ref_pos, _ = _predicted_positive(
        reference, y_pred, ref_scores, positive_label, threshold, which="reference"
    )
    reference_realised = _realised(
        ref_y.astype(bool),
        ref_pos,
        ref_scores,
        classes,
        metrics,
        level,
        n_bootstrap,
        stream(seed, "realised", "reference"),
    )

    # The current data: rows without a score are counted, not estimated.
    current_scores = scores(current, y_pred_proba, which="current")
    predicted, known_pred = _predicted_positive(
        current, y_pred, current_scores, positive_label, threshold, which="current"
    )
    scored = np.isfinite(current_scores) & known_pred
    is_pos = (truth == positive_label).to_numpy(dtype=bool, na_value=False)

    def estimate(rows: NDArray[np.intp]) -> dict[str, MetricMoments]:
        return expected_metrics(current_scores[rows], predicted[rows], cal, refits, metrics)

    def realise(rows: NDArray[np.intp], rng: np.random.Generator) -> dict[str, Estimate]:
        return _realised(
            is_pos[rows],
            predicted[rows],
            current_scores[rows],
            classes,
            metrics,
            level,
            n_bootstrap,
            rng,
        )

    return Problem(
        metrics=metrics,
        calibration=cal,
        reference=reference_realised,
        scored=scored,
        labelled=truth.notna().to_numpy() & scored,
        estimate=estimate,
        realise=realise,
        positive_label=positive_label,
        classes=tuple(classes),
    )
