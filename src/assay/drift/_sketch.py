"""Mergeable per-window summaries of one column: computed once per window, added across windows.

A ``NumericSketch`` counts values in bins fixed by the reference (its quantiles, with open outer
bins so values beyond the reference's range are kept) plus missing, infinite, minimum, maximum,
sum and sum of squares; a ``CategoricalSketch`` counts each category. ``a + b`` is the sketch of
the rows of both, exactly, so the monitor can store one sketch per window and answer for any run
of windows; PSI, Jensen–Shannon and chi-squared computed from a merged sketch equal those computed
from the rows (tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from assay.errors import DataError

__all__ = ["CategoricalSketch", "NumericSketch", "reference_edges"]


def reference_edges(ref_sorted: NDArray[np.float64], n_bins: int) -> NDArray[np.float64]:
    """Inner bin edges at the quantiles of the sorted finite reference values (the lower order
    statistic; distinct edges only): ``n_bins`` equal-frequency bins where ties allow. Values
    below the first edge and from the last edge on fall in the two outer bins."""
    if ref_sorted.size == 0:
        return np.zeros(0)
    at = np.floor(np.linspace(0.0, 1.0, n_bins + 1)[1:-1] * (ref_sorted.size - 1)).astype(int)
    return np.unique(ref_sorted[at])


@dataclass(frozen=True)
class NumericSketch:
    """Counts of a numeric column in bins fixed by ``edges`` (``len(edges) + 1`` bins).

    Attributes:
        edges: inner bin edges (shared by every sketch that is added to this one).
        counts: finite values per bin; bin ``i`` holds ``edges[i-1] <= x < edges[i]``.
        n_rows: rows seen; n_missing: missing (NaN, None); n_pos_inf / n_neg_inf: infinities.
        minimum, maximum: of the finite values (``nan`` when there are none).
        total, total_sq: sum and sum of squares of the finite values.
    """

    edges: NDArray[np.float64] = field(repr=False)
    counts: NDArray[np.int64]
    n_rows: int
    n_missing: int
    n_pos_inf: int
    n_neg_inf: int
    minimum: float
    maximum: float
    total: float
    total_sq: float

    @classmethod
    def of(cls, values: NDArray[np.float64], edges: NDArray[np.float64]) -> NumericSketch:
        """The sketch of ``values`` (float, NaN for missing) on ``edges``."""
        missing = np.isnan(values)
        pos = values == np.inf
        neg = values == -np.inf
        finite = values[~(missing | pos | neg)]
        counts = np.bincount(
            np.searchsorted(edges, finite, side="right"), minlength=edges.size + 1
        ).astype(np.int64)
        return cls(
            edges=edges,
            counts=counts,
            n_rows=int(values.size),
            n_missing=int(missing.sum()),
            n_pos_inf=int(pos.sum()),
            n_neg_inf=int(neg.sum()),
            minimum=float(finite.min()) if finite.size else float("nan"),
            maximum=float(finite.max()) if finite.size else float("nan"),
            total=float(finite.sum()),
            total_sq=float(np.dot(finite, finite)),
        )

    @property
    def n_finite(self) -> int:
        return int(self.counts.sum())

    def __add__(self, other: NumericSketch) -> NumericSketch:
        if not np.array_equal(self.edges, other.edges):
            raise DataError("numeric sketches on different bin edges cannot be added")
        return NumericSketch(
            edges=self.edges,
            counts=self.counts + other.counts,
            n_rows=self.n_rows + other.n_rows,
            n_missing=self.n_missing + other.n_missing,
            n_pos_inf=self.n_pos_inf + other.n_pos_inf,
            n_neg_inf=self.n_neg_inf + other.n_neg_inf,
            minimum=float(np.fmin(self.minimum, other.minimum)),
            maximum=float(np.fmax(self.maximum, other.maximum)),
            total=self.total + other.total,
            total_sq=self.total_sq + other.total_sq,
        )


@dataclass(frozen=True)
class CategoricalSketch:
    """Counts of each category of a column, and of missing values.

    Attributes:
        counts: category → rows.
        n_rows: rows seen; n_missing: rows without a value.
    """

    counts: dict[str, int]
    n_rows: int
    n_missing: int

    @classmethod
    def of(cls, counts: Mapping[str, int], n_missing: int) -> CategoricalSketch:
        """The sketch of rows per category plus ``n_missing`` missing rows."""
        kept = {str(k): int(v) for k, v in counts.items()}
        return cls(counts=kept, n_rows=sum(kept.values()) + n_missing, n_missing=n_missing)

    def aligned(self, categories: list[str]) -> NDArray[np.int64]:
        """Counts in the order of ``categories`` (0 for one not seen)."""
        return np.array([self.counts.get(c, 0) for c in categories], dtype=np.int64)

    def __add__(self, other: CategoricalSketch) -> CategoricalSketch:
        counts = dict(self.counts)
        for k, v in other.counts.items():
            counts[k] = counts.get(k, 0) + v
        return CategoricalSketch(
            counts=counts,
            n_rows=self.n_rows + other.n_rows,
            n_missing=self.n_missing + other.n_missing,
        )
