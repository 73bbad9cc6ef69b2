"""Reading ``estimate_performance``'s tables: columns, scores and labels, with precise errors.

Shared by the binary path (``assay.drift._performance``) and the multiclass one
(``assay.drift._performance_multiclass``), together with :class:`Problem`, what either path hands
to the window loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from assay.drift._cbpe import MetricMoments
from assay.errors import DataError
from assay.stats._estimate import Estimate

__all__ = ["Problem", "column", "current_truth", "scores"]

Rows = NDArray[np.intp]


@dataclass(frozen=True)
class Problem:
    """A fitted CBPE problem, binary or multiclass, as the window loop uses it.

    Attributes:
        metrics: the metrics estimated, in order.
        calibration: the fitted calibration (``Calibration`` or ``MulticlassCalibration``).
        reference: the realised metrics on the reference.
        scored: per current row, whether it has a usable score (and prediction).
        labelled: per current row, whether it is scored and its label is known.
        estimate: the CBPE moments of the given (scored) current rows.
        realise: the realised metrics of the given (labelled) current rows, with a generator
            for their bootstrap.
        positive_label: the class the score is the probability of (binary), else ``None``.
        classes: the class labels, the positive one last (binary) or in score-column order.
    """

    metrics: tuple[str, ...]
    calibration: Any
    reference: dict[str, Estimate]
    scored: NDArray[np.bool_]
    labelled: NDArray[np.bool_]
    estimate: Callable[[Rows], dict[str, MetricMoments]]
    realise: Callable[[Rows, np.random.Generator], dict[str, Estimate]]
    positive_label: Any
    classes: tuple[Any, ...]


def column(frame: pd.DataFrame, name: str, *, which: str, role: str) -> pd.Series:
    """Column ``name`` of ``frame``; a missing one is a DataError that lists the columns there."""
    if name not in frame.columns:
        shown = ", ".join(str(c) for c in list(frame.columns)[:20])
        raise DataError(
            f"performance estimation: {role} column {name!r} is not in the {which} data; "
            f"its columns are {shown}; pass {role}= the column that holds it"
        )
    return frame[name]


def scores(
    frame: pd.DataFrame, name: str, *, which: str, of: str = "the positive class"
) -> NDArray[np.float64]:
    """The probabilities in column ``name`` (NaN where missing), each checked to lie in [0, 1].

    ``of`` names the class they are the probability of, for the messages.
    """
    col = column(frame, name, which=which, role="y_pred_proba")
    hint = "predict_proba(X)[:, 1]" if of == "the positive class" else "its predict_proba column"
    try:
        values = pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"performance estimation: y_pred_proba column {name!r} of the {which} data holds "
            f"values that are not numbers ({exc}); it must hold the probability of {of}"
        ) from exc
    finite = values[np.isfinite(values)]
    if len(finite) and (finite.min() < 0.0 or finite.max() > 1.0):
        row = int(np.flatnonzero(np.isfinite(values) & ((values < 0) | (values > 1)))[0])
        raise DataError(
            f"performance estimation: y_pred_proba column {name!r} of the {which} data holds "
            f"{values[row]!r} at row {row + 1}, outside [0, 1]; give the probability of {of} "
            f"(e.g. {hint})"
        )
    return values


def current_truth(
    current: pd.DataFrame, labels: pd.DataFrame | None, *, y_true: str, id_column: str | None
) -> pd.Series:
    """Each current row's label where known (NaN where it has not arrived), in current's order."""
    if labels is None:
        if y_true in current.columns:
            return current[y_true].reset_index(drop=True)
        return pd.Series(np.full(len(current), np.nan), dtype=object)
    if id_column is None:
        raise DataError(
            "performance estimation: labels were given without id_column; name the column that "
            "joins them to the current rows"
        )
    ids = column(current, id_column, which="current", role="id_column")
    label_ids = column(labels, id_column, which="labels", role="id_column")
    label_values = column(labels, y_true, which="labels", role="y_true")
    dup = label_ids.duplicated(keep=False).to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"performance estimation: id {label_ids.iloc[first]!r} appears more than once in the "
            f"labels (row {first + 1}); keep one label per id"
        )
    joined = pd.Series(label_values.to_numpy(), index=label_ids.to_numpy())
    return pd.Series(joined.reindex(ids.to_numpy()).to_numpy(), dtype=object)
