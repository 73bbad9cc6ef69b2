"""Validation: column roles against the columns present, and rows, one chunk at a time."""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay._types import canonical_label
from assay.config._suite import ColumnRoles
from assay.data._readers import coerce_text_columns
from assay.errors import DataError

__all__ = [
    "DUPLICATE_ID",
    "LABEL_NOT_IN_LABELS",
    "MISSING_ID",
    "MISSING_INPUT",
    "MISSING_LABEL",
    "NOT_ONE_VALUE",
    "ChunkResult",
    "Problem",
    "RowValidator",
    "check_columns",
    "closest_column",
    "role_columns",
]

MISSING_ID = "missing id"
MISSING_INPUT = "missing input"
MISSING_LABEL = "missing label"
LABEL_NOT_IN_LABELS = "label not in labels"
DUPLICATE_ID = "duplicate id"
NOT_ONE_VALUE = "not one value"

_SKIP_FIX = "or set `on_invalid: skip` to drop such rows"


def role_columns(roles: ColumnRoles) -> list[tuple[str, str]]:
    """Every ``(role, column)`` the roles name, in a fixed order."""
    out: list[tuple[str, str]] = []
    if roles.id is not None:
        out.append(("id", roles.id))
    out += [("input", c) for c in roles.input_columns()]
    if roles.label is not None:
        out.append(("label", roles.label))
    out += [("groups", c) for c in roles.groups]
    if roles.time is not None:
        out.append(("time", roles.time))
    if roles.domain is not None:
        out.append(("domain", roles.domain))
    out += [("slices", c) for c in roles.slices]
    return out


def closest_column(name: str, present: Sequence[str]) -> str | None:
    """The present column most like ``name``: same name in another case, else difflib's pick."""
    for c in present:
        if c.lower() == name.lower():
            return c
    close = difflib.get_close_matches(name, list(present), n=1, cutoff=0.5)
    if close:
        return close[0]
    lowered = {c.lower(): c for c in present}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[close[0]] if close else None


def check_columns(roles: ColumnRoles, present: Sequence[Any], where: str) -> None:
    """Every column a role names must be present.

    Raises:
        DataError: naming the first missing column and its role, the columns present, the
            closest present name, and the fix.
    """
    names = [str(c) for c in present]
    missing = [(role, col) for role, col in role_columns(roles) if col not in names]
    if not missing:
        return
    role, col = missing[0]
    msg = f"{where}: no column {col!r} (named by `{role}`). Columns present: {names}."
    guess = closest_column(col, names)
    if guess is not None:
        msg += f" Did you mean {guess!r}?"
    if len(missing) > 1:
        others = ", ".join(f"{c!r} (`{r}`)" for r, c in missing[1:])
        msg += f" Also missing: {others}."
    fix = f"`{role}: {guess}`" if guess is not None else f"`{role}:` to a column present"
    msg += f" Fix: set {fix}, or add the column to the file."
    raise DataError(msg)


@dataclass(frozen=True)
class Problem:
    """One invalid row.

    Attributes:
        row: the 1-based data row number in the file (the header is not a row).
        id: the row's id, when it has one.
        reason: one of the reason constants (``"missing label"`` …), the key in ``Dataset.dropped``.
        message: the full explanation, as a ``DataError`` would say it.
    """

    row: int
    id: str | None
    reason: str
    message: str

    def example(self) -> dict[str, Any]:
        return {"row": self.row, "id": self.id, "reason": self.reason, "detail": self.message}


@dataclass(frozen=True)
class ChunkResult:
    """The outcome of validating one chunk: which rows to keep, their ids, and the problems."""

    keep: np.ndarray
    ids: list[str]
    problems: list[Problem]


class RowValidator:
    """Checks rows chunk by chunk and remembers ids across chunks to catch duplicates.

    Each invalid row gets one reason, the first that applies in this order: an id or label that
    is a list or object (JSON lines), missing id, missing input, missing label, label not in
    labels, duplicate id. Rows that fail are not registered
    as holders of their id, so a later valid row with that id is kept.
    """

    def __init__(
        self,
        roles: ColumnRoles,
        *,
        where: str,
        allowed_labels: tuple[str, ...] | None,
        text_source: bool,
    ) -> None:
        self._roles = roles
        self._where = where
        self._allowed = allowed_labels
        self._allowed_set = frozenset(allowed_labels or ())
        self._text_source = text_source
        self._seen: dict[str, int] = {}

    def check(self, chunk: pd.DataFrame, *, first_row: int) -> ChunkResult:
        """Validate ``chunk``, whose first row is data row ``first_row`` (1-based) of the file."""
        roles = self._roles
        n = len(chunk)
        rows = range(first_row, first_row + n)
        problems: dict[int, Problem] = {}
        for role, col in (("the id column", roles.id), ("the label column", roles.label)):
            if col is not None and pd.api.types.is_object_dtype(chunk[col]):
                for i, v in enumerate(chunk[col].tolist()):
                    if i not in problems and isinstance(v, (list, dict, tuple, np.ndarray)):
                        problems[i] = self._not_one_value(rows[i], role, col, v)

        if roles.id is not None:
            id_col = chunk[roles.id]
            id_values = id_col.tolist()
            if pd.api.types.is_string_dtype(id_col) and not pd.api.types.is_object_dtype(id_col):
                # The common case (CSV ids are read as strings): no per-value conversion.
                absent = _missing_mask(id_col)
                ids = ["" if a else v for v, a in zip(id_values, absent, strict=True)]
            else:
                converted = [_id_string(v) for v in id_values]
                absent = np.array([v is None for v in converted], dtype=bool)
                ids = [v if v is not None else "" for v in converted]
            for i in _where(absent):
                if i not in problems:
                    problems[i] = self._missing(rows[i], None, MISSING_ID, roles.id, id_values[i])
        else:
            # Without an id column the id is the 0-based row position: stable under `limit`
            # and under dropped rows.
            ids = [str(r - 1) for r in rows]

        for col in roles.input_columns():
            values = chunk[col].tolist()
            for i in _where(_missing_mask(chunk[col])):
                if i not in problems:
                    problems[i] = self._missing(rows[i], ids[i], MISSING_INPUT, col, values[i])

        if roles.label is not None:
            labels = chunk[roles.label]
            values = labels.tolist()
            for i in _where(_missing_mask(labels)):
                if i not in problems:
                    problems[i] = self._missing(
                        rows[i], ids[i], MISSING_LABEL, roles.label, values[i]
                    )
            if self._allowed is not None:
                if self._text_source:
                    labels = coerce_text_columns(chunk[[roles.label]])[roles.label]
                for i, c in self._outside(labels):
                    if i not in problems:
                        problems[i] = self._not_allowed(rows[i], ids[i], c)

        if roles.id is not None:
            for i in range(n):
                if i in problems:
                    continue
                first = self._seen.get(ids[i])
                if first is not None:
                    problems[i] = self._duplicate(first, rows[i], ids[i])
                else:
                    self._seen[ids[i]] = rows[i]

        keep = np.ones(n, dtype=bool)
        if problems:
            keep[list(problems)] = False
        return ChunkResult(keep=keep, ids=ids, problems=[problems[i] for i in sorted(problems)])

    def _outside(self, labels: pd.Series) -> list[tuple[int, str]]:
        """Rows whose label is present but not allowed, with its canonical form."""
        try:
            codes, found = pd.factorize(labels)
            uniques = np.asarray(found, dtype=object)
        except TypeError:  # unhashable values: canonicalise one by one
            codes = np.arange(len(labels))
            uniques = labels.to_numpy(dtype=object)
        canon = [_canonical_or_none(v) for v in uniques]
        bad = np.array([c is not None and c not in self._allowed_set for c in canon], dtype=bool)
        if not bad.any():
            return []
        hit = (codes >= 0) & bad[np.maximum(codes, 0)]
        return [(int(i), str(canon[codes[i]])) for i in np.flatnonzero(hit)]

    # --- messages ----------------------------------------------------------------------------

    def _missing(self, row: int, id_: str | None, reason: str, col: str, value: Any) -> Problem:
        role = {MISSING_ID: "the id column", MISSING_INPUT: "an input column"}.get(
            reason, "the label column"
        )
        if reason == MISSING_ID:
            fix = "fill in the id, remove `id:` to number rows automatically"
        else:
            fix = "fill in the value, remove the row"
        msg = (
            f"{self._where}: row {row}, column {col!r} ({role}): found {_describe_missing(value)}; "
            f"a value is required in every row of the id, input and label columns. "
            f"Fix: {fix}, {_SKIP_FIX}."
        )
        return Problem(row, id_, reason, msg)

    def _not_one_value(self, row: int, role: str, col: str, value: Any) -> Problem:
        kind = "an object" if isinstance(value, dict) else "a list"
        shown = repr(value if isinstance(value, dict) else list(value))
        msg = (
            f"{self._where}: row {row}, column {col!r} ({role}): found {kind} "
            f"({shown[:60]}); an id or label must be one value (a string, number or boolean). "
            f"Fix: write one value in that field, {_SKIP_FIX}."
        )
        return Problem(row, None, NOT_ONE_VALUE, msg)

    def _not_allowed(self, row: int, id_: str, label: str) -> Problem:
        col = self._roles.label
        msg = (
            f"{self._where}: row {row}, column {col!r}: label {label!r} is not in the declared "
            f"labels. Allowed: {list(self._allowed or ())}. Fix: correct the row, add {label!r} "
            f"to `labels`, {_SKIP_FIX}."
        )
        return Problem(row, id_, LABEL_NOT_IN_LABELS, msg)

    def _duplicate(self, first: int, row: int, id_: str) -> Problem:
        msg = (
            f"{self._where}: rows {first} and {row} have the same id {id_!r} (column "
            f"{self._roles.id!r}); ids must be unique. Fix: make the ids unique, remove `id:` to "
            "number rows automatically, or set `on_invalid: skip` to keep the first and drop the "
            "others."
        )
        return Problem(row, id_, DUPLICATE_ID, msg)


def _canonical_or_none(value: Any) -> str | None:
    try:
        return canonical_label(value)
    except ValueError:  # missing: reported as a missing label, not as a label outside the set
        return None


def _where(mask: np.ndarray) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask)]


def _id_string(value: Any) -> str | None:
    """An id as a string; ``None`` when missing. Integral floats lose their ``.0``."""
    if _is_missing_scalar(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    s = str(value)
    return s if s.strip() else None


def _is_missing_scalar(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(float(value))
    return False


def _missing_mask(s: pd.Series) -> np.ndarray:
    """NaN/None/NA, or a string that is empty or only whitespace."""
    mask = s.isna().to_numpy(dtype=bool, copy=True)
    if pd.api.types.is_string_dtype(s) and not pd.api.types.is_object_dtype(s):
        mask |= s.str.strip().eq("").fillna(False).to_numpy(dtype=bool)
    elif pd.api.types.is_object_dtype(s):
        values = s.tolist()
        mask |= np.fromiter(
            (isinstance(v, str) and not v.strip() for v in values), dtype=bool, count=len(values)
        )
    return mask


def _describe_missing(value: Any) -> str:
    if isinstance(value, str):
        return "an empty string" if not value else f"only whitespace ({value!r})"
    return "no value (an empty cell, NaN or null)"
