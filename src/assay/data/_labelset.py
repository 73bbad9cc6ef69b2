"""The label set of a dataset: declared, or inferred from a categorical label column."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from assay._types import canonical_label
from assay.errors import DataError

__all__ = [
    "MAX_CLASSES",
    "declared_labels",
    "infer_label_set",
    "near_duplicate_labels",
    "sort_labels",
]

#: More distinct values than this and a label column is not treated as classes.
MAX_CLASSES = 100


def declared_labels(labels: list[str] | None, *, where: str) -> tuple[str, ...] | None:
    """The declared ``labels`` as canonical strings, in the declared order.

    Raises:
        DataError: two declared labels have the same canonical form (``1`` and ``"1.0"``).
    """
    if labels is None:
        return None
    out: list[str] = []
    for raw in labels:
        c = canonical_label(raw)
        if c in out:
            raise DataError(
                f"{where}: `labels` lists {c!r} twice ({labels}). Labels are compared as canonical "
                "strings (1, 1.0 and '1' are the same). Fix: list each label once."
            )
        out.append(c)
    return tuple(out)


def infer_label_set(values: pd.Series) -> tuple[str, ...] | None:
    """The sorted distinct canonical labels when ``values`` look like classes, else ``None``.

    Classes are booleans, strings or integers (integral floats count as integers, since a
    missing value turns an integer column into floats) with at most :data:`MAX_CLASSES` distinct
    values. A float column with fractional values is a regression target; a string column whose
    values are mostly distinct (references for generation) is not a set of classes.
    """
    present = values.dropna()
    if present.empty:
        return None
    n = len(present)
    if pd.api.types.is_float_dtype(present):
        arr = present.to_numpy(dtype=float)
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            return None
    numeric = pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    distinct = {canonical_label(v) for v in present.unique().tolist()}
    k = len(distinct)
    if k > MAX_CLASSES:
        return None
    if n >= 20 and k > n / 2 and (not numeric or k > 20):
        return None
    return sort_labels(distinct)


def near_duplicate_labels(labels: Iterable[str]) -> list[list[str]]:
    """Groups of labels that differ only in letter case or spacing (``"Sports"``, ``"sports"``,
    ``"new  york"``, ``"New York"``), each group sorted; labels without a near twin are left out.

    Example:
        >>> near_duplicate_labels(["sports", "Sports", "politics"])
        [['Sports', 'sports']]
    """
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(" ".join(label.split()).casefold(), []).append(label)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def sort_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Sort labels numerically when all are numbers (``"2"`` before ``"10"``), else as strings."""
    items = list(labels)
    try:
        return tuple(sorted(items, key=float))
    except ValueError:
        return tuple(sorted(items))
