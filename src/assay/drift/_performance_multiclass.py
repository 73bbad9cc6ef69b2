"""The multiclass path of ``estimate_performance``: reading the class columns, labels and
predictions, fitting the per-class calibration, and the realised metrics once labels arrive.

Realised metrics use the same definitions and intervals as ``assay.metrics``: accuracy with a
Wilson interval, the macro precision / recall / F1 (mean over the classes where each is defined)
with a bootstrap over the confusion counts, and the one-vs-rest macro ROC AUC with DeLong
influences combined over the classes, logit-transformed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from assay.drift._cbpe import MetricMoments
from assay.drift._cbpe_multiclass import (
    bootstrap_multiclass_calibrations,
    expected_multiclass_metrics,
    fit_multiclass_calibration,
)
from assay.drift._performance_inputs import Problem, column, scores
from assay.errors import ConfigError, DataError
from assay.metrics._count_summary import count_estimates
from assay.metrics._counts import nan_mean
from assay.metrics._ranking import AucInfluence, OwnClass, SortedColumn
from assay.stats._delong import logit_auc_bounds
from assay.stats._estimate import Estimate
from assay.stats._random import Seed, stream

__all__ = ["multiclass_problem"]

F = NDArray[np.float64]
Codes = NDArray[np.intp]


def _classes(y_pred_proba: Mapping[Any, str]) -> tuple[list[Any], list[str]]:
    classes, columns = list(y_pred_proba.keys()), list(y_pred_proba.values())
    if len(classes) < 2:
        raise ConfigError(
            f"performance estimation: y_pred_proba names {len(classes)} class; a mapping needs "
            "every class the model scores, each with its probability column"
        )
    if len(set(columns)) != len(columns):
        raise ConfigError(
            f"performance estimation: y_pred_proba maps two classes to the same column "
            f"({columns}); give each class its own probability column"
        )
    return classes, columns


def _codes(
    values: pd.Series, classes: Sequence[Any], *, which: str, role: str
) -> tuple[Codes, NDArray[np.bool_]]:
    """Each value's class index (0 where missing) and whether it is known; an unknown class is a
    DataError naming the row."""
    index = {c: i for i, c in enumerate(classes)}
    known = values.notna().to_numpy()
    mapped = pd.Series(values.to_numpy(dtype=object)).map(index).to_numpy(dtype=np.float64)
    unknown = np.flatnonzero(known & np.isnan(mapped))
    if len(unknown):
        row = int(unknown[0])
        raise DataError(
            f"performance estimation: {role} {values.iloc[row]!r} in row {row + 1} of the "
            f"{which} data is not one of the classes of y_pred_proba ({list(classes)}); add its "
            f"probability column to y_pred_proba or drop such rows ({len(unknown)} rows)"
        )
    return np.where(known, mapped, 0.0).astype(np.intp), known


def _score_matrix(
    frame: pd.DataFrame, classes: Sequence[Any], columns: Sequence[str], *, which: str
) -> F:
    return np.column_stack(
        [scores(frame, col, which=which, of=f"class {c!r}") for c, col in zip(classes, columns)]
    )


def _predicted(
    frame: pd.DataFrame, y_pred: str | None, matrix: F, classes: Sequence[Any], *, which: str
) -> tuple[Codes, NDArray[np.bool_]]:
    """(predicted class index, prediction known) per row; without ``y_pred``, the top score."""
    if y_pred is None:
        finite = np.asarray(np.isfinite(matrix).all(axis=1), dtype=bool)
        top: Codes = np.argmax(np.where(np.isfinite(matrix), matrix, -1.0), axis=1)
        return top, finite
    col = column(frame, y_pred, which=which, role="y_pred")
    return _codes(col, classes, which=which, role="predicted label")


def _realised_auc(truth: Codes, matrix: F, k: int, level: float) -> Estimate:
    counts = np.bincount(truth, minlength=k).astype(np.int64)
    multi = AucInfluence(counts)
    small = truth.astype(np.min_scalar_type(-max(k, 1)))
    for c in range(k):
        col = SortedColumn.build(matrix[:, c], small)
        multi.add(col, OwnClass.build(col, c))
    aucs, psi, _ = multi.ovr()
    macro = float(nan_mean(aucs))
    if math.isnan(macro):
        return Estimate(math.nan, math.nan, math.nan, level, "delong-influence", len(truth))
    lo, hi = logit_auc_bounds(macro, float(psi @ psi), level)
    return Estimate(macro, lo, hi, level, "delong-influence", len(truth))


def _realised(
    truth: Codes,
    predicted: Codes,
    matrix: F,
    classes: Sequence[Any],
    metrics: tuple[str, ...],
    level: float,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, Estimate]:
    k = len(classes)
    cm = np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k).astype(np.int64)
    counts, _ = count_estimates(
        cm, list(classes), positive=None, level=level, n_bootstrap=n_bootstrap, rng=rng
    )
    out: dict[str, Estimate] = {}
    for m in metrics:
        out[m] = _realised_auc(truth, matrix, k, level) if m == "roc_auc_ovr_macro" else counts[m]
    return out


def multiclass_problem(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    truth: pd.Series,
    *,
    y_true: str,
    y_pred_proba: Mapping[Any, str],
    y_pred: str | None,
    metrics: tuple[str, ...],
    calibration: str,
    level: float,
    n_bootstrap: int,
    seed: Seed,
) -> Problem:
    """Fit CBPE for a classifier with one probability column per class (see
    ``estimate_performance``); ``truth`` is each current row's label where known."""
    classes, columns = _classes(y_pred_proba)
    k = len(classes)

    # The reference: every row needs a known label, finite scores and a prediction.
    ref_codes, ref_known = _codes(
        column(reference, y_true, which="reference", role="y_true"),
        classes,
        which="reference",
        role="label",
    )
    ref_matrix = _score_matrix(reference, classes, columns, which="reference")
    ref_pred, ref_pred_known = _predicted(reference, y_pred, ref_matrix, classes, which="reference")
    bad = np.flatnonzero(~ref_known | ~np.isfinite(ref_matrix).all(axis=1) | ~ref_pred_known)
    if len(bad):
        raise DataError(
            f"performance estimation: reference row {int(bad[0]) + 1} has no label, no "
            f"prediction or a score that is not finite ({len(bad)} such rows); the calibration "
            "needs all of them on every reference row: drop those rows first"
        )
    support = np.bincount(ref_codes, minlength=k)
    if (support == 0).any() or (support == len(ref_codes)).any():
        missing = [classes[i] for i in np.flatnonzero((support == 0) | (support == len(ref_codes)))]
        raise DataError(
            f"performance estimation: class {missing[0]!r} is absent from the reference labels "
            f"(or is every label: classes seen {dict(zip(classes, support.tolist()))}); each "
            "class's calibration needs reference rows of it and of the others"
        )
    cal = fit_multiclass_calibration(
        ref_matrix, ref_codes, classes, calibration=calibration, seed=stream(seed, "folds")
    )
    refits = bootstrap_multiclass_calibrations(
        ref_matrix, ref_codes, cal, n_bootstrap=n_bootstrap, rng=stream(seed, "calibration")
    )
    reference_realised = _realised(
        ref_codes,
        ref_pred,
        ref_matrix,
        classes,
        metrics,
        level,
        n_bootstrap,
        stream(seed, "realised", "reference"),
    )

    # The current data: rows without usable scores or a prediction are counted, not estimated.
    matrix = _score_matrix(current, classes, columns, which="current")
    predicted, known_pred = _predicted(current, y_pred, matrix, classes, which="current")
    scored = np.isfinite(matrix).all(axis=1) & known_pred
    truth_codes, truth_known = _codes(truth, classes, which="current", role="label")

    def estimate(rows: Codes) -> dict[str, MetricMoments]:
        return expected_multiclass_metrics(matrix[rows], predicted[rows], cal, refits, metrics)

    def realise(rows: Codes, rng: np.random.Generator) -> dict[str, Estimate]:
        return _realised(
            truth_codes[rows],
            predicted[rows],
            matrix[rows],
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
        labelled=truth_known & scored,
        estimate=estimate,
        realise=realise,
        positive_label=None,
        classes=tuple(classes),
    )
