"""What kind each column is, and its values read the same way on both sides.

The reference decides the kind: booleans and numbers with at most ``max_numeric_levels`` distinct
values are categorical, other numbers numeric, datetimes are left out of the tests (time always
drifts; it is what windows are cut by), text is text when its values are mostly distinct and
several words long, other strings categorical. A user's ``column_types`` overrides this. The
current column is read as the reference's kind: a value that cannot be (a word in a numeric
column) is counted as ``unreadable``, never dropped unsaid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
        numbers: numeric kind: float values, NaN where missing, infinities kept.
        categories: categorical and text kinds: the non-missing values as strings.
        n_rows: rows; n_missing: rows without a value (NaN, None, empty time).
        n_unreadable: non-missing values that could not be read as the kind (counted as missing
            in the test, reported as a type change).
    """

    kind: Kind
    n_rows: int
    n_missing: int
    n_unreadable: int = 0
    numbers: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)
    categories: NDArray[np.object_] = field(
        default_factory=lambda: np.zeros(0, dtype=object), repr=False
    )


def _category_strings(s: pd.Series) -> NDArray[np.object_]:
    """Non-missing values as strings, numbers written alike on both sides (``1`` and ``1.0``
    are the category ``"1"``)."""
    values = s.dropna()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return values.astype(str).to_numpy(dtype=object)
    x = values.to_numpy(dtype=np.float64)
    out = np.empty(x.size, dtype=object)
    whole = np.isfinite(x) & (x == np.round(x))
    out[whole] = [str(int(v)) for v in x[whole]]
    out[~whole] = [repr(float(v)) for v in x[~whole]]
    return out


def prepare(s: pd.Series, kind: Kind) -> Prepared:
    """Read one side of a column as ``kind``."""
    n_rows = len(s)
    missing = s.isna()
    n_missing = int(missing.sum())
    if kind == "numeric":
        if pd.api.types.is_bool_dtype(s):
            numbers = np.asarray(s.astype("float64").to_numpy(na_value=np.nan), dtype=np.float64)
            return Prepared(kind, n_rows, n_missing, numbers=numbers)
        if pd.api.types.is_numeric_dtype(s):
            numbers = np.asarray(s.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
            return Prepared(kind, n_rows, n_missing, numbers=numbers)
        coerced = pd.to_numeric(s, errors="coerce")
        numbers = np.asarray(coerced, dtype=np.float64)
        unreadable = int((coerced.isna() & ~missing).sum())
        return Prepared(kind, n_rows, n_missing, n_unreadable=unreadable, numbers=numbers)
    if kind == "datetime":
        return Prepared(kind, n_rows, n_missing)
    return Prepared(kind, n_rows, n_missing, categories=_category_strings(s))
