"""What kind each column is, and its values read the same way on both sides.

The reference decides the kind: booleans and numbers with at most ``max_numeric_levels`` distinct
values are categorical, other numbers numeric, datetimes are left out of the tests (time always
drifts; it is what windows are cut by), text is text when its values are mostly distinct and
several words long, other strings categorical. A user's ``column_types`` overrides this. The
current column is read as the reference's kind: a value that cannot be (a word in a numeric
column) is counted as ``unreadable``, never dropped unsaid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["Kind", "Prepared", "dtype_family", "infer_kind", "prepare"]

Kind = Literal["numeric", "categorical", "text", "datetime"]

#: A text column: at least this share of distinct values and this many words on average.
_TEXT_DISTINCT = 0.5
_TEXT_WORDS = 5.0


def dtype_family(s: pd.Series) -> str:
    """``"boolean"``, ``"number"``, ``"datetime"`` or ``"string"``: what a type change is about."""
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_numeric_dtype(s):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    return "string"


def infer_kind(s: pd.Series, *, max_numeric_levels: int) -> Kind:
    """The kind of a reference column (see the module docstring)."""
    family = dtype_family(s)
    if family == "boolean":
        return "categorical"
    if family == "datetime":
        return "datetime"
    if family == "number":
        # a prefix with more levels settles it without hashing a million values
        if s.iloc[:10_000].nunique(dropna=True) > max_numeric_levels:
            return "numeric"
        return "categorical" if s.nunique(dropna=True) <= max_numeric_levels else "numeric"
    values = s.dropna()
    if values.empty:
        return "categorical"
    sample = values.iloc[:2000].astype(str)
    distinct = sample.nunique() / len(sample)
    words = float(sample.map(lambda t: len(t.split())).mean())
    return "text" if distinct >= _TEXT_DISTINCT and words >= _TEXT_WORDS else "categorical"


@dataclass(frozen=True)
class Prepared:
    """One side of one column, read as the column's kind.

    Attributes:
        kind: the column's kind.
        n_rows: rows; n_missing: rows without a value (NaN, None, NaT).
        n_unreadable: non-missing values that could not be read as the kind (counted with the
            missing in the test, reported as a type change).
        numbers: numeric kind: float values, NaN where missing, infinities kept.
        counts: categorical kind: rows per category (index: the category as text).
        texts: text kind: the non-missing values.
    """

    kind: Kind
    n_rows: int
    n_missing: int
    n_unreadable: int = 0
    numbers: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)
    counts: pd.Series = field(
        default_factory=lambda: pd.Series([], dtype="int64", index=pd.Index([], dtype=object)),
        repr=False,
    )
    texts: list[str] = field(default_factory=list, repr=False)

    @cached_property
    def n_values(self) -> int:
        """Values a test can use: finite numbers, or non-missing categories and texts (counted
        once: a million-row column is asked several times)."""
        if self.kind == "numeric":
            return int(np.isfinite(self.numbers).sum())
        if self.kind == "text":
            return len(self.texts)
        return int(self.counts.sum())


def _number_text(x: float) -> str:
    return str(int(x)) if math.isfinite(x) and x == round(x) else repr(float(x))


def _category_counts(s: pd.Series) -> pd.Series:
    """Rows per category, the categories written as text alike on both sides (``1`` and ``1.0``
    are the category ``"1"``); counted by hashing, not by sorting strings."""
    counts = s.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]  # a pandas Categorical lists its unused levels with 0
    index = counts.index
    if pd.api.types.is_bool_dtype(index) or not pd.api.types.is_numeric_dtype(index):
        names = [str(v) for v in index]
    else:
        names = [_number_text(float(v)) for v in index]
    out = pd.Series(counts.to_numpy(dtype=np.int64), index=pd.Index(names, dtype=object))
    if out.index.has_duplicates:
        out = out.groupby(level=0, sort=False).sum()
    return out


def prepare(s: pd.Series, kind: Kind) -> Prepared:
    """Read one side of a column as ``kind``."""
    n_rows = len(s)
    missing = s.isna()
    n_missing = int(missing.sum())
    if kind == "numeric":
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            numbers = np.asarray(s.astype("float64").to_numpy(na_value=np.nan), dtype=np.float64)
            return Prepared(kind, n_rows, n_missing, numbers=numbers)
        coerced = pd.to_numeric(s, errors="coerce")
        numbers = np.asarray(coerced, dtype=np.float64)
        unreadable = int((coerced.isna() & ~missing).sum())
        return Prepared(kind, n_rows, n_missing, n_unreadable=unreadable, numbers=numbers)
    if kind == "datetime":
        return Prepared(kind, n_rows, n_missing)
    if kind == "text":
        return Prepared(kind, n_rows, n_missing, texts=[str(t) for t in s[~missing]])
    return Prepared(kind, n_rows, n_missing, counts=_category_counts(s))
