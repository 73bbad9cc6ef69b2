"""``ConfusionCounts``: a mergeable sufficient statistic for single-label classification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from assay.errors import MetricError
from assay.metrics._classification import ClassificationSummary, summary_from_counts
from assay.metrics._validation import check_labels, check_same_length, encode_labels
from assay.stats._policy import ZeroDivision
from assay.stats._random import Seed

__all__ = ["ConfusionCounts"]


@dataclass(frozen=True, eq=False)
class ConfusionCounts:
    """A ``k × k`` confusion matrix with its labels; counts from separate batches add up.

    Every count-based metric (and its interval) is a function of these counts, so per-batch,
    per-worker or per-window statistics can be merged with ``+`` and summarised once.

    Attributes:
        labels: the class labels, in row / column order.
        counts: ``(k, k)`` int64 counts, rows = true class, columns = predicted class.

    Example:
        >>> a = ConfusionCounts.from_labels(["x", "y"], ["x", "x"], labels=["x", "y"])
        >>> b = ConfusionCounts.from_labels(["y"], ["y"], labels=["x", "y"])
        >>> (a + b).counts.tolist()
        [[1, 0], [1, 1]]
    """

    labels: tuple[Any, ...]
    counts: NDArray[np.int64]

    def __post_init__(self) -> None:
        c = np.asarray(self.counts)
        k = len(self.labels)
        if c.shape != (k, k) or (c < 0).any():
            raise MetricError(
                f"counts must be a ({k}, {k}) array of non-negative integers; got shape {c.shape}"
            )
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "counts", c.astype(np.int64))

    @classmethod
    def empty(cls, labels: Sequence[Any]) -> ConfusionCounts:
        """All-zero counts for ``labels`` (the identity of ``+``)."""
        return cls(tuple(labels), np.zeros((len(labels), len(labels)), dtype=np.int64))

    @classmethod
    def from_labels(
        cls, y_true: ArrayLike, y_pred: ArrayLike, *, labels: Sequence[Any]
    ) -> ConfusionCounts:
        """Count ``(true, predicted)`` pairs; every value must be in ``labels``."""
        labs = check_labels(labels)
        t = encode_labels(y_true, labs, name="y_true")
        p = encode_labels(y_pred, labs, name="y_pred")
        check_same_length(len(t), y_pred=p)
        k = len(labs)
        return cls(tuple(labs), np.bincount(t * k + p, minlength=k * k).reshape(k, k))

    @property
    def n(self) -> int:
        """Total number of examples."""
        return int(self.counts.sum())

    def __add__(self, other: object) -> ConfusionCounts:
        if not isinstance(other, ConfusionCounts):
            return NotImplemented
        if self.labels != other.labels:
            raise MetricError(
                f"cannot add ConfusionCounts with labels {list(self.labels)!r} and "
                f"{list(other.labels)!r}; use the same labels in the same order"
            )
        return ConfusionCounts(self.labels, self.counts + other.counts)

    def __radd__(self, other: object) -> ConfusionCounts:
        if other == 0:  # lets sum([...]) work
            return self
        return self.__add__(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfusionCounts):
            return NotImplemented
        return self.labels == other.labels and bool(np.array_equal(self.counts, other.counts))

    __hash__ = None  # type: ignore[assignment]

    def to_frame(self) -> pd.DataFrame:
        """The counts as a DataFrame indexed by true label, columns = predicted label."""
        return pd.DataFrame(self.counts, index=list(self.labels), columns=list(self.labels))

    def summary(
        self,
        *,
        positive_label: Any = None,
        level: float = 0.95,
        n_bootstrap: int = 1000,
        seed: Seed = None,
        zero_division: ZeroDivision = "warn",
    ) -> ClassificationSummary:
        """The count-based part of ``classification_summary`` (identical numbers and intervals
        for the same ``seed``)."""
        return summary_from_counts(
            self.counts,
            list(self.labels),
            positive_label=positive_label,
            level=level,
            n_bootstrap=n_bootstrap,
            seed=seed,
            zero_division=zero_division,
        )
