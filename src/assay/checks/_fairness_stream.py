"""The fairness check's group part on a streamed run: one :class:`GroupSketch` per feature.

Each sensitive feature (and each intersection, its values joined with ``&``) keeps the five
count cells of every group and, with probabilities, the per-block sums of the group's ECE; the
group metrics, disparities and their intervals come from those (:meth:`GroupSketch.metrics`),
so without probabilities they are the same numbers as in memory.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from assay.checks._stream import Chunk
from assay.errors import ConfigError
from assay.fairness import GroupSketch
from assay.metrics._calibration import ece_bins

__all__ = ["GroupCounts"]

MISSING = "<missing>"


class GroupCounts:
    """A streamed fairness check's statistics (see the module docstring).

    Args:
        features: the sensitive feature columns.
        intersections: the feature combinations whose values are joined with ``&``.
        positive: the code of the audited label.
        binary: the problem has two labels (no ``TNX`` cell).
        with_ece: rows come with probabilities.
        n_bins: ECE bins.
        seed: seeds the rows' ECE blocks.
        missing: ``group`` (a group named ``<missing>``) or ``error``.
        dataset: the dataset's name, for messages.
    """

    def __init__(
        self,
        *,
        features: list[str],
        intersections: list[list[str]],
        positive: int,
        binary: bool,
        with_ece: bool,
        n_bins: int,
        seed: int,
        missing: str,
        dataset: str,
    ) -> None:
        self.features = features
        self.intersections = intersections
        self.positive = positive
        self.n_bins = n_bins
        self.missing = missing
        self.dataset = dataset
        self.with_ece = with_ece
        names = [*features, *("&".join(c) for c in intersections)]
        self.sketches = {
            name: GroupSketch(binary=binary, with_ece=with_ece, n_bins=n_bins, block_seed=seed)
            for name in names
        }
        self.n_missing = dict.fromkeys(features, 0)

    def add(self, chunk: Chunk) -> None:
        columns: dict[str, pd.Series] = {}
        for col in self.features:
            raw = pd.Series(chunk.columns[col])
            text = raw.astype("string").str.strip()
            absent = (raw.isna() | (text == "")).to_numpy(dtype=bool)
            if absent.any():
                self.n_missing[col] += int(absent.sum())
                if self.missing == "error":
                    first = [str(i) for i in chunk.ids[absent][:5]]
                    raise ConfigError(
                        f"checks.fairness: column {col!r} of dataset {self.dataset!r} has missing "
                        f"values (ids {', '.join(first)}); fill them, or set "
                        f"checks.fairness.missing: group to put them in a group named {MISSING}"
                    )
            columns[col] = text.mask(absent, MISSING).astype(str)
        for combo in self.intersections:
            joined = columns[combo[0]]
            for c in combo[1:]:
                joined = joined + "&" + columns[c]
            columns["&".join(combo)] = joined
        t_pos = chunk.y_true == self.positive
        p_pos = chunk.y_pred == self.positive
        wrong = chunk.y_true != chunk.y_pred
        ece = None
        if self.with_ece and chunk.proba is not None:
            ece = ece_bins(chunk.proba, chunk.y_true, self.n_bins)
        for name, sketch in self.sketches.items():
            sketch.add(
                columns[name].to_numpy(dtype=object),
                t_pos,
                p_pos,
                wrong,
                rows=chunk.rows,
                ece=ece,
            )

    def merge(self, other: GroupCounts) -> None:
        for name, sketch in other.sketches.items():
            self.sketches[name].merge(sketch)
        for col, k in other.n_missing.items():
            self.n_missing[col] += k

    def metrics(self, name: str, *, with_ece: bool, **kwargs: Any) -> Any:
        """The :class:`GroupMetrics` of one feature or intersection (``with_ece``: false when
        some rows had no probabilities, as in memory)."""
        sketch = self.sketches[name]
        sketch.with_ece = sketch.with_ece and with_ece
        return sketch.metrics(**kwargs)
