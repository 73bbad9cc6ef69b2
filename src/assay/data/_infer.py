"""``infer_roles``: guess column roles from a table, for ``assay init``.

The guesses are heuristics on names and values, each explained by a reason the user can read
and overrule in the suite file.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from assay._types import canonical_label
from assay.config._suite import ColumnRoles
from assay.data._labelset import infer_label_set
from assay.data._readers import read_table
from assay.data._validate import closest_column
from assay.errors import DataError

__all__ = ["InferredRoles", "infer_roles"]

#: Rows looked at when guessing from a file.
SAMPLE_ROWS = 10_000

_ID_NAMES = ("id", "idx", "uid", "uuid", "guid", "key", "example_id", "row_id", "sample_id",
             "doc_id", "unnamed: 0", "index")
_LABEL_NAMES = ("label", "labels", "target", "y", "class", "gold", "gold_label", "category",
                "sentiment", "outcome", "rating", "score", "answer", "output")
_TEXT_NAMES = ("text", "sentence", "review", "content", "document", "prompt", "question",
               "input", "body", "comment", "utterance", "tweet", "message", "query", "passage")
_GROUP_NAMES = ("sex", "gender", "race", "ethnicity", "religion", "nationality", "age_group",
                "disability", "marital_status", "native_country", "native-country",
                "marital-status", "country", "language", "dialect")
_DOMAIN_NAMES = ("domain", "source", "site", "platform", "channel")
_TIME_RE = re.compile(r"(^|_)(date|time|timestamp|datetime|created|created_at|ts)($|_)")

#: Slices are categorical columns with this many distinct values at most.
_MAX_SLICE_VALUES = 20
_MAX_GROUP_VALUES = 50
_MAX_SLICES = 5
#: A string column is text when its values average at least this many words.
_MIN_TEXT_WORDS = 4
#: A column not named like a label is guessed as one only with this many classes at most.
_MAX_GUESSED_CLASSES = 20
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class InferredRoles(NamedTuple):
    """The guessed column roles and why each was chosen.

    A named pair, so ``roles, reasons = infer_roles(path)`` works as well as ``.roles``.

    Attributes:
        roles: the guess, ready to become the ``data:`` entry of a suite.
        reasons: one short sentence per role, in the order id, input, label, groups, time,
            domain, slices; also what was not found.
    """

    roles: ColumnRoles
    reasons: tuple[str, ...]


def infer_roles(
    data: str | Path | pd.DataFrame,
    *,
    label: str | None = None,
    sample_rows: int = SAMPLE_ROWS,
    model_classes: Sequence[str] | None = None,
    model_features: Sequence[str] | None = None,
) -> InferredRoles:
    """Guess the id, input, label, group, time, domain and slice columns of a table.

    The label is, in this order: ``label`` when given; a column named like a label; a column
    whose values are among ``model_classes`` and that is not one of ``model_features``; the
    last column when it holds a small set of classes; the only column that does.

    Args:
        data: a table, or a path ``read_table`` can read (the first ``sample_rows`` rows are used).
        label: the label column, when the user knows it; otherwise guessed.
        sample_rows: rows read from a file.
        model_classes: the classes the model predicts (scikit-learn's ``classes_``), when known.
        model_features: the columns the model reads (``feature_names_in_``), when known; they
            become ``input`` and are never the label.

    Returns:
        ``InferredRoles``: the ``ColumnRoles`` and a reason for each choice. ``input`` is the
        text column when one holds prose, ``{image: column}`` when a column holds image paths,
        else the list of feature columns.

    Raises:
        DataError: ``label`` is not a column (names the closest one), or the table has no columns.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"id": ["a", "b", "c"], "review": ["a fine film, truly"] * 3,
        ...                       "label": ["pos", "neg", "pos"]})
        >>> r = infer_roles(frame)
        >>> r.roles.id, r.roles.input, r.roles.label
        ('id', 'review', 'label')
    """
    frame = data.head(sample_rows) if isinstance(data, pd.DataFrame) else read_table(
        data, limit=sample_rows
    )
    where = "the table" if isinstance(data, pd.DataFrame) else str(data)
    columns = [str(c) for c in frame.columns]
    if not columns:
        raise DataError(f"{where}: has no columns; there is nothing to guess roles from.")
    frame = frame.set_axis(columns, axis=1)
    reasons: list[str] = []
    used: set[str] = set()

    id_col = _guess_id(frame, reasons)
    if id_col:
        used.add(id_col)

    features = [c for c in model_features or () if c in columns]
    label_col = _guess_label(
        frame, label, id_col, where, reasons, model_classes=model_classes, model_features=features
    )
    if label_col:
        used.add(label_col)

    time_col = _guess_time(frame, used, reasons)
    if time_col:
        used.add(time_col)

    text_col = None if features else _guess_text(frame, used)
    image_col = None if features or text_col else _guess_image(frame, used)
    input_: str | list[str] | dict[str, str] | None
    if features:
        input_ = features
        reasons.append(f"input: the model's feature_names_in_ {features}")
    elif image_col is not None:
        input_ = {"image": image_col}
        reasons.append(f"input: {image_col!r} holds image file paths")
        used.add(image_col)
    elif text_col is not None:
        input_ = text_col
        words = _mean_words(frame[text_col])
        reasons.append(f"input: {text_col!r} holds text ({words:.0f} words per row on average)")
        used.add(text_col)
    else:
        rest = [c for c in columns if c not in used]
        input_ = rest or None
        reasons.append(
            f"input: no text column; features are the other columns {rest}"
            if rest
            else "input: no column left for the model to read; set `input:`"
        )

    groups = [
        c
        for c in columns
        if c not in used
        and _norm(c) in _GROUP_NAMES
        and 2 <= _distinct(frame[c]) <= _MAX_GROUP_VALUES
    ]
    if groups:
        reasons.append(f"groups: {groups} are named like sensitive attributes")

    domain = next(
        (c for c in columns
         if c not in used and c not in groups and _norm(c) in _DOMAIN_NAMES
         and 2 <= _distinct(frame[c]) <= _MAX_GROUP_VALUES),
        None,
    )
    if domain:
        reasons.append(f"domain: {domain!r} is named like a data source")

    taken = used | set(groups) | ({domain} if domain else set())
    slices = [
        c
        for c in columns
        if c not in taken
        and _is_categorical(frame[c])
        and 2 <= _distinct(frame[c]) <= _MAX_SLICE_VALUES
    ][:_MAX_SLICES]
    if slices:
        reasons.append(f"slices: {slices} are categorical (at most {_MAX_SLICE_VALUES} values)")

    roles = ColumnRoles(
        id=id_col, input=input_, label=label_col, groups=groups, time=time_col, domain=domain,
        slices=slices,
    )
    return InferredRoles(roles=roles, reasons=tuple(reasons))


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def _distinct(s: pd.Series) -> int:
    try:
        return int(s.nunique(dropna=True))
    except TypeError:  # unhashable values (lists, dicts)
        return len({repr(v) for v in s.dropna().tolist()})


def _is_text_like(s: pd.Series) -> bool:
    if not (pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)):
        return False
    present = s.dropna()
    return bool(len(present)) and bool(present.map(lambda v: isinstance(v, str)).mean() >= 0.9)


def _is_categorical(s: pd.Series) -> bool:
    return (
        pd.api.types.is_bool_dtype(s)
        or pd.api.types.is_integer_dtype(s)
        or isinstance(s.dtype, pd.CategoricalDtype)
        or _is_text_like(s)
    )


def _mean_words(s: pd.Series) -> float:
    present = s.dropna()
    present = present[present.map(lambda v: isinstance(v, str))]
    if not len(present):
        return 0.0
    return float(present.map(lambda v: len(v.split())).mean())


def _guess_id(frame: pd.DataFrame, reasons: list[str]) -> str | None:
    n = len(frame)
    def rank(c: str) -> tuple[bool, int]:
        known = _norm(c) in _ID_NAMES
        return (not known, _ID_NAMES.index(_norm(c)) if known else 0)

    columns = [str(c) for c in frame.columns]
    candidates = sorted(
        (c for c in columns if _norm(c) in _ID_NAMES or _norm(c).endswith("_id")), key=rank
    )
    for c in candidates:
        s = frame[c]
        if n and not s.isna().any() and _distinct(s) == n and not pd.api.types.is_float_dtype(s):
            reasons.append(f"id: {c!r} is named like an id and its {n} values are unique")
            return c
    reasons.append("id: no unique id-like column; ids will be row numbers (\"0\", \"1\", …)")
    return None


def _guess_label(
    frame: pd.DataFrame,
    label: str | None,
    id_col: str | None,
    where: str,
    reasons: list[str],
    *,
    model_classes: Sequence[str] | None = None,
    model_features: Sequence[str] = (),
) -> str | None:
    columns = [str(c) for c in frame.columns]
    if label is not None:
        if label not in columns:
            guess = closest_column(label, columns)
            hint = f" Did you mean {guess!r}?" if guess else ""
            raise DataError(
                f"{where}: no column {label!r} (given as the label). Columns present: "
                f"{columns}.{hint} Fix: pass one of the columns present."
            )
        reasons.append(f"label: {label!r}, as given{_label_kind(frame[label])}")
        return label
    by_name = sorted(
        (c for c in columns
         if _norm(c) in _LABEL_NAMES and c != id_col and c not in model_features),
        key=lambda c: _LABEL_NAMES.index(_norm(c)),
    )
    for c in by_name:
        prose = _is_text_like(frame[c]) and _mean_words(frame[c]) >= _MIN_TEXT_WORDS
        if prose and _norm(c) not in ("label", "labels", "target", "answer", "output"):
            continue  # a prose column named like "category" is not a label
        reasons.append(f"label: {c!r} is named like a label{_label_kind(frame[c])}")
        return c
    free = [c for c in columns if c != id_col and c not in (model_features or ())]
    if model_classes:
        known = {canonical_label(v) for v in model_classes}
        matching = [
            c for c in free if (s := infer_label_set(frame[c])) is not None and set(s) <= known
        ]
        if matching:
            c = matching[-1]
            outside = " and it is not one of its feature_names_in_" if model_features else ""
            reasons.append(
                f"label: {c!r}: its values are among the model's classes_ "
                f"({', '.join(sorted(known)[:5])}){outside}"
            )
            return c
    few = [c for c in free if _few_classes(frame[c]) and _norm(c) not in _GROUP_NAMES]
    if columns[-1] in few:
        c = columns[-1]
        reasons.append(
            f"label: {c!r}, the last column, holds a small set of classes{_label_kind(frame[c])} "
            "(no column is named like a label; pass --label if it is another)"
        )
        return c
    if len(few) == 1:
        c = few[0]
        reasons.append(
            f"label: {c!r} is the only column with a small set of classes{_label_kind(frame[c])} "
            "(no column is named like a label; pass --label if it is another)"
        )
        return c
    reasons.append(
        "label: no column named like a label (label, target, class, …) and no single column of "
        "few classes; pass --label (or set `label:`) if there is one"
    )
    return None


def _few_classes(s: pd.Series) -> bool:
    """A column that looks like classes a model predicts: 2 to 20 values, each class on two
    rows on average at least, not prose."""
    if _is_text_like(s) and _mean_words(s) >= _MIN_TEXT_WORDS:
        return False
    classes = infer_label_set(s)
    n = int(s.notna().sum())
    return classes is not None and 2 <= len(classes) <= min(_MAX_GUESSED_CLASSES, n // 2)


def _label_kind(s: pd.Series) -> str:
    classes = infer_label_set(s)
    if classes is None:
        return "; its values are not a small set of classes (regression or generation)"
    shown = ", ".join(classes[:5]) + (", …" if len(classes) > 5 else "")
    return f" and has {len(classes)} classes ({shown})"


def _guess_time(frame: pd.DataFrame, used: set[str], reasons: list[str]) -> str | None:
    for c in [str(c) for c in frame.columns]:
        if c in used:
            continue
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            reasons.append(f"time: {c!r} holds timestamps")
            return c
        if _TIME_RE.search(_norm(c)) and _is_text_like(s) and _parses_as_time(s):
            reasons.append(f"time: {c!r} is named like a time and its values parse as dates")
            return c
    return None


def _parses_as_time(s: pd.Series) -> bool:
    present = s.dropna().astype(str).head(1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(present, errors="coerce", format="mixed")
    return bool(len(present)) and float(parsed.notna().mean()) >= 0.9


def _guess_text(frame: pd.DataFrame, used: set[str]) -> str | None:
    columns = [str(c) for c in frame.columns]
    candidates = [c for c in columns if c not in used and _is_text_like(frame[c])]
    words = {c: _mean_words(frame[c]) for c in candidates}
    prose = [c for c in candidates if words[c] >= _MIN_TEXT_WORDS]
    named = [c for c in prose if _norm(c) in _TEXT_NAMES]
    if named:
        return sorted(named, key=lambda c: _TEXT_NAMES.index(_norm(c)))[0]
    if prose:
        return max(prose, key=lambda c: words[c])
    named_short = [c for c in candidates if _norm(c) in _TEXT_NAMES]
    return named_short[0] if named_short else None


def _guess_image(frame: pd.DataFrame, used: set[str]) -> str | None:
    """A column whose values are (mostly) paths of image files."""
    for c in [str(c) for c in frame.columns]:
        s = frame[c]
        if c in used or not _is_text_like(s):
            continue
        present = s.dropna().astype(str).str.strip().str.lower()
        if len(present) and float(present.str.endswith(_IMAGE_SUFFIXES).mean()) >= 0.9:
            return c
    return None
