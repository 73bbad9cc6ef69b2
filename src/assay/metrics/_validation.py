"""Input validation shared by the metric summaries: label encoding, shapes, finiteness."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from assay.errors import MetricError

__all__ = ["check_finite", "check_labels", "check_same_length", "encode_labels", "label_key"]


def check_labels(labels: Sequence[Any]) -> list[Any]:
    """Validate a class order: a non-empty sequence of distinct, hashable labels."""
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence | np.ndarray):
        raise MetricError(
            f"labels must be a sequence of class labels (e.g. ['neg', 'pos']); got {labels!r}"
        )
    out = [x.item() if isinstance(x, np.generic) else x for x in labels]
    if len(out) < 1:
        raise MetricError("labels must contain at least one class label; got an empty sequence")
    if len(set(out)) != len(out):
        seen: set[Any] = set()
        dup = next(x for x in out if x in seen or seen.add(x))  # type: ignore[func-returns-value]
        raise MetricError(f"labels must be distinct; {dup!r} appears more than once")
    return out


def encode_labels(values: ArrayLike, labels: Sequence[Any], *, name: str) -> NDArray[np.intp]:
    """Map class labels to their index in ``labels`` (vectorised, hash based).

    Raises:
        MetricError: naming the first value that is not in ``labels`` and its position.
    """
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise MetricError(f"{name} must be 1-D (one label per example); got shape {arr.shape}")
    codes = pd.Index(list(labels)).get_indexer(arr)
    bad = np.flatnonzero(codes < 0)
    if len(bad):
        i = int(bad[0])
        value = arr[i].item() if isinstance(arr[i], np.generic) else arr[i]
        raise MetricError(
            f"{name}[{i}] = {value!r} is not one of labels={list(labels)!r} "
            f"({len(bad)} value(s) outside labels in total); add it to labels or fix the data"
        )
    return codes.astype(np.intp, copy=False)


def check_same_length(n: int, **arrays: Any) -> None:
    """Raise ``MetricError`` unless every array has length ``n``."""
    for key, arr in arrays.items():
        if len(arr) != n:
            raise MetricError(f"{key} has {len(arr)} rows but y_true has {n}; they must match")


def check_finite(arr: NDArray[np.float64], *, name: str) -> None:
    """Raise ``MetricError`` naming the first non-finite entry of ``arr``."""
    finite = np.isfinite(arr)
    if not finite.all():
        flat = int(np.argmin(finite.ravel()))
        pos = np.unravel_index(flat, arr.shape)
        where = pos[0] if arr.ndim == 1 else tuple(int(p) for p in pos)
        raise MetricError(
            f"{name} must be finite; found {arr[pos]!r} at position {where}; "
            "drop or impute those rows first"
        )


def label_key(label: Any) -> str:
    """The string used for a label in metric names (``per_class.<label>.f1``)."""
    return str(label.item() if isinstance(label, np.generic) else label)
