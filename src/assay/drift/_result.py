"""The typed results of :func:`assay.drift.detect_drift`: per column, per window, data quality."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from assay.drift._sketch import CategoricalSketch, NumericSketch
from assay.stats._estimate import Estimate

__all__ = [
    "ColumnDrift",
    "ColumnQuality",
    "Counted",
    "DriftResult",
    "WindowDrift",
]


def _clean(v: Any) -> Any:
    """JSON-ready: NaN and infinities become ``None``, tuples lists, nested dicts cleaned."""
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, Estimate):
        return v.to_dict()
    return v


@dataclass(frozen=True)
class Counted:
    """A count on both sides: ``reference`` of ``reference_n`` rows, ``current`` of ``current_n``.

    ``change`` is the current rate minus the reference rate (``nan`` when a side has no rows).
    """

    reference: int
    reference_n: int
    current: int
    current_n: int

    @property
    def reference_rate(self) -> float:
        return self.reference / self.reference_n if self.reference_n else math.nan

    @property
    def current_rate(self) -> float:
        return self.current / self.current_n if self.current_n else math.nan

    @property
    def change(self) -> float:
        return self.current_rate - self.reference_rate

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "reference": self.reference,
                "reference_n": self.reference_n,
                "reference_rate": self.reference_rate,
                "current": self.current,
                "current_n": self.current_n,
                "current_rate": self.current_rate,
                "change": self.change,
            }
        )


@dataclass(frozen=True)
class ColumnQuality:
    """Data quality of one column beside its drift.

    Attributes:
        column: the column.
        reference_type, current_type: dtype family on each side (``number``, ``string``, ...),
            ``"absent"`` for a side without the column.
        type_changed: the families differ.
        missing: missing values (NaN, None) on each side.
        non_finite: infinite values (numeric columns), left out of the tests.
        unreadable: values that could not be read as the reference's kind (a word in a numeric
            column), left out of the tests.
        out_of_range: finite values below the reference's minimum or above its maximum.
        new_categories: current rows whose category the reference never has (categorical).
        new_category_values: how many distinct such categories, and up to five of them.
    """

    column: str
    reference_type: str
    current_type: str
    missing: Counted
    non_finite: Counted
    unreadable: Counted
    out_of_range: Counted
    new_categories: Counted
    new_category_values: tuple[int, tuple[str, ...]] = (0, ())

    @property
    def type_changed(self) -> bool:
        return self.reference_type != self.current_type

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "reference_type": self.reference_type,
            "current_type": self.current_type,
            "type_changed": self.type_changed,
            "missing": self.missing.to_dict(),
            "non_finite": self.non_finite.to_dict(),
            "unreadable": self.unreadable.to_dict(),
            "out_of_range": self.out_of_range.to_dict(),
            "new_categories": self.new_categories.to_dict(),
            "n_new_category_values": self.new_category_values[0],
            "new_category_examples": list(self.new_category_values[1]),
        }


@dataclass(frozen=True)
class ColumnDrift:
    """The drift of one column.

    Attributes:
        column: its name; role: ``feature``, ``prediction``, ``probability``, ``label`` or
            ``text``; kind: ``numeric``, ``categorical``, ``text`` or ``datetime``.
        tested: whether a test ran. An untested column says why in ``reason`` and is counted in
            :attr:`DriftResult.untested`; it never vanishes.
        method: the test (``ks``, ``chi2``, ``wasserstein``, ``jensenshannon``, ``psi``,
            ``anderson``, ``cramervonmises``, ``energy``, ``mmd``, ``classifier``).
        statistic: the method's statistic (Wasserstein and energy divided by the reference's
            standard deviation).
        p_value, p_adjusted: for tests with a p-value (else ``nan``); ``p_adjusted`` after the
            correction across columns.
        threshold: the statistic at or beyond which the column drifts (distances, learned
            thresholds); ``nan`` for p-value tests.
        rule: the decision rule in words.
        drifted: the verdict.
        effect_size, effect_size_name: how large the change is, whatever the sample size.
        distances: the other distances computed for every column of its kind (``ks``,
            ``wasserstein``, ``psi``, ``jensenshannon``, ``cramers_v``), for gates and tables.
        n_reference, n_current: values the test used (missing and non-finite left out).
        notes: treatments applied (lumped levels, a constant reference, ...).
        plot: histograms for the report: ``{"kind", "bins", "reference", "current"}``.
        details: method-specific extras (text drift's top terms and atypical examples).
    """

    column: str
    role: str
    kind: str
    tested: bool
    method: str = ""
    statistic: float = math.nan
    p_value: float = math.nan
    p_adjusted: float = math.nan
    threshold: float = math.nan
    rule: str = ""
    drifted: bool = False
    effect_size: float = math.nan
    effect_size_name: str = ""
    distances: dict[str, float] = field(default_factory=dict)
    n_reference: int = 0
    n_current: int = 0
    reason: str = ""
    notes: tuple[str, ...] = ()
    plot: dict[str, Any] = field(default_factory=dict, repr=False)
    details: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "column": self.column,
                "role": self.role,
                "kind": self.kind,
                "tested": self.tested,
                "method": self.method,
                "statistic": self.statistic,
                "p_value": self.p_value,
                "p_adjusted": self.p_adjusted,
                "threshold": self.threshold,
                "rule": self.rule,
                "drifted": self.drifted,
                "effect_size": self.effect_size,
                "effect_size_name": self.effect_size_name,
                "distances": self.distances,
                "n_reference": self.n_reference,
                "n_current": self.n_current,
                "reason": self.reason,
                "notes": list(self.notes),
                "plot": self.plot,
                "details": self.details,
            }
        )


@dataclass(frozen=True)
class WindowDrift:
    """Drift of one window of the current data.

    Attributes:
        index, label, n: the window (``n == 0``: a period without rows, nothing tested).
        columns: column → ``{"statistic", "p_value", "p_adjusted", "threshold", "drifted"}``.
        share_drifted: share of tested feature columns that drift in this window (``nan`` when
            none could be tested).
        drifted: the dataset rule applied to this window.
        sketches: column → the window's mergeable sketch.
    """

    index: int
    label: str
    n: int
    columns: dict[str, dict[str, Any]]
    share_drifted: float
    drifted: bool
    sketches: dict[str, NumericSketch | CategoricalSketch] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "index": self.index,
                "label": self.label,
                "n": self.n,
                "columns": self.columns,
                "share_drifted": self.share_drifted,
                "drifted": self.drifted,
            }
        )


@dataclass(frozen=True)
class DriftResult:
    """Drift between a reference and a current table.

    Attributes:
        columns: one :class:`ColumnDrift` per column compared (tested or not).
        quality: one :class:`ColumnQuality` per column present on either side.
        share_drifted: share of tested feature columns that drift (an exact count of these
            columns, so its bounds equal its value).
        drifted: the dataset verdict; ``rule`` says how it is reached.
        alpha, correction: the level and multiple-testing correction of p-value tests.
        reference_only, current_only: columns present on one side only (reported, untested).
        duplicates: duplicate rows on each side.
        n_reference, n_current: rows.
        windows: per-window drift when windows were asked for; ``window_rule`` says how.
        notes: what was treated and how (rows without time, empty windows, ...).
    """

    columns: tuple[ColumnDrift, ...]
    quality: tuple[ColumnQuality, ...]
    share_drifted: Estimate
    drifted: bool
    rule: str
    alpha: float
    correction: str
    reference_only: tuple[str, ...]
    current_only: tuple[str, ...]
    duplicates: Counted
    n_reference: int
    n_current: int
    windows: tuple[WindowDrift, ...] = ()
    window_rule: str = ""
    notes: tuple[str, ...] = ()

    def column(self, name: str) -> ColumnDrift:
        """The drift of column ``name``.

        Raises:
            KeyError: no such column, naming the ones there are.
        """
        for c in self.columns:
            if c.column == name:
                return c
        raise KeyError(f"no column {name!r}; columns: {', '.join(c.column for c in self.columns)}")

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def untested(self) -> list[ColumnDrift]:
        return [c for c in self.columns if not c.tested]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN as ``None``), as the report and ``assay drift`` write it."""
        return _clean(
            {
                "drifted": self.drifted,
                "rule": self.rule,
                "share_drifted": self.share_drifted,
                "n_drifted": len([c for c in self.columns if c.drifted and c.role == "feature"]),
                "alpha": self.alpha,
                "correction": self.correction,
                "n_reference": self.n_reference,
                "n_current": self.n_current,
                "reference_only": list(self.reference_only),
                "current_only": list(self.current_only),
                "n_untested": len(self.untested),
                "duplicates": self.duplicates.to_dict(),
                "columns": [c.to_dict() for c in self.columns],
                "quality": [q.to_dict() for q in self.quality],
                "windows": [w.to_dict() for w in self.windows],
                "window_rule": self.window_rule,
                "notes": list(self.notes),
            }
        )
