"""Reading a data file (and a file of predictions) in lined-up chunks, without holding either.

Two passes, each a chunk at a time:

1. **Check** (:func:`check_pass`): the id, label and input columns of the data and the id and
   prediction columns of the predictions. It finds the labels, the rows that are invalid (a
   missing id, input or label, a label outside the declared ones, a repeated id) and whether the
   predictions list the data's ids in the same order — the one layout streaming reads without
   an index (anything else goes back to the in-memory path, which looks ids up). Repeated ids
   are found from a 64-bit hash per row (8 bytes a row; confirmed on the ids themselves before
   anything is said about them).
2. **Encode** (:func:`encoded_chunks`): every needed column, cut into chunks of exactly
   ``chunk_rows`` rows of the data file (the same chunks whatever reads them: this process, or a
   Ray worker reading a range of rows), labels and predictions as codes, probabilities as a
   matrix, checked as the ``predictions:`` model checks them.

Each file is read with pyarrow (Parquet: only the columns needed) or the streaming readers of
``assay.data`` (CSV, TSV, JSON lines).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay._types import OTHER_LABEL, canonical_label
from assay.checks._predictions import EXACT_SUM, MAX_UNSCORED_EXAMPLES, PROBA_SUM_TOLERANCE
from assay.checks._stream import Chunk
from assay.config._suite import DatasetSpec, Suite
from assay.data._formats import Source, resolve_source
from assay.data._labelset import MAX_CLASSES, declared_labels, sort_labels
from assay.data._readers import coerce_text_columns, iter_chunks
from assay.errors import DataError, ModelError
from assay.models._predictions import (
    PREDICTION_COLUMNS,
    PREDICTION_FORMATS,
    PROBABILITY_PREFIX,
)

__all__ = [
    "STREAM_MIN_ROWS",
    "ChunkTally",
    "KeptRows",
    "StreamPlan",
    "check_pass",
    "encoded_chunks",
    "estimate_rows",
    "kept_chunks",
    "plan_stream",
    "row_group_rows",
]

#: ``engine.stream: auto`` streams a suite whose data file has at least this many rows.
STREAM_MIN_ROWS = 1_000_000


class NotStreamable(Exception):
    """The files are valid but not laid out for streaming (the message says why)."""


@dataclass(frozen=True)
class StreamPlan:
    """Everything a process needs to read and encode chunks (picklable, a few hundred bytes plus
    the rows to drop)."""

    dataset: str
    model: str
    data: Source
    #: the file of predictions; ``None`` when the model answers through the engine
    preds: Source | None
    id_col: str | None
    label_col: str
    input_cols: tuple[str, ...]
    pred_id_col: str
    pred_col: str | None
    prob_cols: tuple[str, ...]
    prob_labels: tuple[str, ...]
    labels: tuple[str, ...]
    declared: tuple[str, ...] | None
    other: bool
    on_invalid: str
    limit: int | None
    columns: tuple[str, ...]
    chunk_rows: int
    n_rows: int = 0
    drop: tuple[int, ...] = ()

    @property
    def n_chunks(self) -> int:
        return max(1, math.ceil(self.n_rows / self.chunk_rows)) if self.n_rows else 0

    @property
    def binary(self) -> bool:
        return len(self.labels) == 2

    @property
    def preds_source(self) -> Source:
        assert self.preds is not None, "a model answering through the engine has no file"
        return self.preds


@dataclass
class ChunkTally:
    """What the encoding of chunks counted (merged in chunk order)."""

    n: int = 0
    no_probabilities: int = 0
    no_probabilities_examples: list[str] = field(default_factory=list)
    renormalised: int = 0
    renormalised_min: float = math.inf
    renormalised_max: float = -math.inf
    #: calls to a model answering through the engine, and those that failed after retries
    calls: int = 0
    failed: int = 0
    failed_examples: list[str] = field(default_factory=list)
    error_examples: list[dict[str, str]] = field(default_factory=list)
    causes: Counter[str] = field(default_factory=Counter)

    def merge(self, other: ChunkTally) -> None:
        self.calls += other.calls
        self.failed += other.failed
        room = MAX_UNSCORED_EXAMPLES - len(self.failed_examples)
        self.failed_examples += other.failed_examples[: max(room, 0)]
        self.error_examples += other.error_examples[: max(room, 0)]
        self.causes.update(other.causes)
        self.n += other.n
        self.no_probabilities += other.no_probabilities
        room = MAX_UNSCORED_EXAMPLES - len(self.no_probabilities_examples)
        self.no_probabilities_examples += other.no_probabilities_examples[: max(room, 0)]
        self.renormalised += other.renormalised
        self.renormalised_min = min(self.renormalised_min, other.renormalised_min)
        self.renormalised_max = max(self.renormalised_max, other.renormalised_max)


@dataclass
class CheckPassResult:
    """What the check pass found: the plan completed with labels and rows to drop."""

    plan: StreamPlan
    n_read: int
    dropped: Counter[str]
    dropped_examples: list[dict[str, Any]]
    outside: int
    outside_examples: list[str]


# -- deciding ---------------------------------------------------------------------------------


def estimate_rows(source: Source) -> int:
    """The data rows of ``source``: exact for Parquet (from its footer), else estimated from the
    size of the file and the length of its first lines (compressed: times 5)."""
    if source.format == "parquet" and source.compression is None:
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(source.path).metadata.num_rows)
    size = sum(Path(f).stat().st_size for f in source.files)
    with open(source.path, "rb") as fh:
        head = fh.read(1 << 20)
    lines = max(head.count(b"\n"), 1)
    per_line = max(len(head) / lines, 1.0)
    return int(size / per_line * (5 if source.compression else 1))


def row_group_rows(plan: StreamPlan) -> int:
    """The rows of the largest Parquet row group of the plan's files (0 for other formats): a
    task that reads fewer rows than this still decodes the whole group."""
    import pyarrow.parquet as pq

    largest = 0
    for source in (plan.data, plan.preds):
        if source is None or source.format != "parquet" or source.compression is not None:
            continue
        meta = pq.ParquetFile(source.path).metadata
        for g in range(meta.num_row_groups):
            largest = max(largest, meta.row_group(g).num_rows)
    return largest


def plan_stream(
    suite: Suite, *, model: str, columns: Sequence[str], chunk_rows: int
) -> StreamPlan | str:
    """The plan to stream ``model``'s predictions on the suite's primary dataset, or why not."""
    name = suite.primary_dataset
    spec: DatasetSpec = suite.data[name]
    model_spec, options = suite.model_spec(model)
    kind, _, target = model_spec.partition(":")
    if spec.format == "hf":
        return "the data is a Hugging Face dataset folder"
    if spec.label is None:
        return f"dataset {name!r} has no label column"
    if isinstance(spec.input, dict):
        return "the input is images"
    if options.get("task") not in (None, "classification"):
        return f"the model's task is {options.get('task')}"
    data = resolve_source(spec.path, format=spec.format, base_dir=suite.base_dir)
    if data.format == "hf":
        return "the data is a Hugging Face dataset folder"
    declared = declared_labels(spec.labels, where=f"data.{name}.labels")
    common: dict[str, Any] = {
        "dataset": name,
        "model": model,
        "data": data,
        "id_col": spec.id,
        "label_col": spec.label,
        "input_cols": tuple(spec.input_columns()),
        "labels": declared or (),
        "declared": declared,
        "other": spec.outside_labels == "other",
        "on_invalid": spec.on_invalid,
        "limit": spec.limit,
        "columns": tuple(dict.fromkeys(columns)),
        "chunk_rows": chunk_rows,
    }
    if kind != "predictions":
        if spec.input is None:
            return f"dataset {name!r} has no input column for model {model!r}"
        if suite.engine.errors == "wrong":
            return "errors: wrong counts failed calls as a class of their own"
        return StreamPlan(
            **common,
            preds=None,
            pred_id_col="",
            pred_col=None,
            prob_cols=(),
            prob_labels=(),
        )
    if options.get("missing_ids", "error") != "error":
        return "missing_ids: skip looks ids up"
    path = Path(target)
    if not path.is_absolute():
        path = suite.model_base_dir(model) / path
    fmt = options.get("format") or PREDICTION_FORMATS.get(path.suffix.lower())
    if fmt is None or not path.is_file():
        return f"the predictions file {path.name} is not a readable csv/tsv/jsonl/parquet file"
    preds = resolve_source(str(path), format=fmt)
    pred_id = str(options.get("id") or "id")
    try:
        head = _head(preds)
    except (DataError, OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        return f"the predictions file {path.name} cannot be read ({exc})"
    if pred_id not in head:
        return f"the predictions file has no {pred_id!r} column"
    column = options.get("column") or next((c for c in PREDICTION_COLUMNS if c in head), None)
    if column in ("value", "text"):
        return f"the predictions are {column}s, not labels"
    prob_cols = tuple(
        c for c in head if c.startswith(PROBABILITY_PREFIX) and len(c) > len(PROBABILITY_PREFIX)
    )
    if "probabilities" in head:
        return "probabilities are given as JSON objects"
    if column is None and not prob_cols:
        return "the predictions file has no prediction column"
    return StreamPlan(
        **common,
        preds=preds,
        pred_id_col=pred_id,
        pred_col=column,
        prob_cols=prob_cols,
        prob_labels=tuple(canonical_label(c[len(PROBABILITY_PREFIX) :]) for c in prob_cols),
    )


# -- reading ----------------------------------------------------------------------------------


def _head(source: Source) -> list[str]:
    """The column names of ``source``."""
    if source.format == "parquet" and source.compression is None:
        import pyarrow.parquet as pq

        return [str(c) for c in pq.ParquetFile(source.path).schema_arrow.names]
    for chunk in iter_chunks(source, chunk_rows=100):
        return [str(c) for c in chunk.columns]
    return []


def _frames(
    source: Source,
    columns: Sequence[str],
    chunk_rows: int,
    *,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[pd.DataFrame]:
    """Rows ``[start, stop)`` of ``source`` (only ``columns`` where the format allows), in
    frames of exactly ``chunk_rows`` rows (the last may be shorter)."""
    return _rechunk(_raw_frames(source, columns, chunk_rows, start, stop), chunk_rows)


def _raw_frames(
    source: Source, columns: Sequence[str], chunk_rows: int, start: int, stop: int | None
) -> Iterator[pd.DataFrame]:
    if source.format == "parquet" and source.compression is None:
        try:
            yield from _parquet_frames(source, columns, chunk_rows, start, stop)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise DataError(
                f"{source.label}: cannot be read as Parquet: {exc}. Fix: check that the file is "
                "complete and that its extension (or `format:`) matches its contents."
            ) from exc
        return
    seen = 0
    for frame in iter_chunks(source, chunk_rows=chunk_rows):
        lo, hi = seen, seen + len(frame)
        seen = hi
        if hi <= start:
            continue
        if stop is not None and lo >= stop:
            return
        a = max(start - lo, 0)
        b = len(frame) if stop is None else min(stop - lo, len(frame))
        yield frame.iloc[a:b]


def _parquet_frames(
    source: Source, columns: Sequence[str], chunk_rows: int, start: int, stop: int | None
) -> Iterator[pd.DataFrame]:
    """Rows ``[start, stop)`` of a Parquet file, only ``columns``, decoding only the row groups
    that hold them."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(source.path)
    wanted = [c for c in dict.fromkeys(columns) if c in file.schema_arrow.names]
    offset = 0
    for g in range(file.metadata.num_row_groups):
        size = file.metadata.row_group(g).num_rows
        lo, hi = offset, offset + size
        offset = hi
        if hi <= start or (stop is not None and lo >= stop):
            continue
        table = file.read_row_group(g, columns=wanted)
        a = max(start - lo, 0)
        b = size if stop is None else min(stop - lo, size)
        for s in range(a, b, chunk_rows):
            piece = table.slice(s, min(chunk_rows, b - s))
            yield piece.to_pandas(integer_object_nulls=True)


def _rechunk(frames: Iterator[pd.DataFrame], size: int) -> Iterator[pd.DataFrame]:
    held: list[pd.DataFrame] = []
    n = 0
    for f in frames:
        held.append(f)
        n += len(f)
        while n >= size:
            whole = pd.concat(held, ignore_index=True) if len(held) > 1 else held[0]
            yield whole.iloc[:size].reset_index(drop=True)
            rest = whole.iloc[size:]
            held, n = ([rest] if len(rest) else []), len(rest)
    if n:
        whole = pd.concat(held, ignore_index=True) if len(held) > 1 else held[0]
        yield whole.reset_index(drop=True)


def _lockstep(
    plan: StreamPlan,
    data_cols: Sequence[str],
    pred_cols: Sequence[str],
    start: int,
    stop: int | None,
) -> Iterator[tuple[int, pd.DataFrame, pd.DataFrame | None]]:
    """(first data row, data frame, predictions frame) for each chunk of rows ``[start, stop)``
    (no predictions frame when the model answers through the engine)."""
    if plan.limit is not None:
        stop = plan.limit if stop is None else min(stop, plan.limit)
    c = plan.chunk_rows
    data = _frames(plan.data, data_cols, c, start=start, stop=stop)
    if plan.preds is None:
        row = start
        for d in data:
            yield row, d, None
            row += len(d)
        return
    preds = _frames(plan.preds, pred_cols, c, start=start, stop=stop)
    row = start
    for d in data:
        p = next(preds, None)
        if p is None or len(p) < len(d):
            have = row + (0 if p is None else len(p))
            raise NotStreamable(f"the predictions file has fewer rows ({have}) than the data file")
        yield row, d, p
        row += len(d)
    if next(preds, None) is not None:
        raise NotStreamable("the predictions file has more rows than the data file")


# -- ids and labels ---------------------------------------------------------------------------


def _id_strings(values: pd.Series, *, strip: bool) -> tuple[np.ndarray, np.ndarray]:
    """Ids as strings and the mask of missing ones (as the data reader and the predictions
    model write them: integral floats without ``.0``)."""
    if pd.api.types.is_integer_dtype(values) and not pd.api.types.is_object_dtype(values):
        out = values.astype(str).to_numpy(dtype=object)
        return out, np.zeros(len(values), dtype=bool)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        # the common case (ids written as text): vectorised, no value converted one by one
        text = values.to_numpy(dtype=object)
        # empty or only whitespace: missing (one C call per value, no pandas string map)
        missing = np.fromiter(
            (not v or v.isspace() for v in text.tolist()), dtype=bool, count=len(text)
        )
        if strip:
            text = np.array([v.strip() for v in text.tolist()], dtype=object)
        return text, missing
    missing = values.isna().to_numpy(dtype=bool, copy=True)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values.tolist()):
        if missing[i]:
            out[i] = ""
            continue
        if (isinstance(v, (float, np.floating)) and float(v).is_integer()) or (
            isinstance(v, (int, np.integer)) and not isinstance(v, bool)
        ):
            s = str(int(v))
        elif isinstance(v, (float, np.floating)):
            s = repr(float(v))
        else:
            s = str(v)
        if strip:
            s = s.strip()
        if not s.strip():
            missing[i] = True
        out[i] = s
    return out, missing


def _typed(values: pd.Series, source: Source) -> pd.Series:
    """A label column as the in-memory readers type it: CSV and TSV text becomes numbers or
    booleans where every value of the chunk parses (``"1.0"`` is the class ``1``)."""
    if source.format not in ("csv", "tsv"):
        return values
    name = values.name if values.name is not None else "_"
    return coerce_text_columns(values.to_frame(name))[name]


def _label_codes(values: pd.Series) -> tuple[np.ndarray, list[str | None]]:
    """Each value's index into the returned canonical labels (``None`` for a missing one; -1)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    canon: list[str | None] = []
    for u in np.asarray(uniques, dtype=object).tolist():
        try:
            c = canonical_label(u)
        except ValueError:
            c = None
        canon.append(c if c is None or c.strip() else None)
    return codes, canon


def _missing_mask(s: pd.Series) -> np.ndarray:
    mask = s.isna().to_numpy(dtype=bool, copy=True)
    if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
        vals = s.tolist()
        mask |= np.fromiter(
            (isinstance(v, str) and not v.strip() for v in vals), dtype=bool, count=len(vals)
        )
    return mask


# -- pass 1 -----------------------------------------------------------------------------------


def check_pass(plan: StreamPlan) -> CheckPassResult:
    """Read the id, label, input and prediction columns once; see the module docstring.

    Raises:
        NotStreamable: the predictions are not in the data's order (or not one per row), or the
            labels are not classes.
        DataError: an invalid data row under ``on_invalid: error`` (file, row, column, fix).
        ModelError: a predicted label outside the labels (unless ``outside_labels: other``) or an
            empty prediction, naming the file and row.
    """
    where = plan.data.label
    data_cols = [c for c in (plan.id_col, plan.label_col, *plan.input_cols) if c]
    pred_cols = [plan.pred_id_col, *([plan.pred_col] if plan.pred_col else [])]
    hashes = _Hashes(estimate_rows(plan.data) if plan.id_col is not None else 0)
    label_values: set[str] = set()
    float_labels = False
    problems: dict[int, tuple[str, str]] = {}  # row (0-based) -> (reason, message)
    pred_labels: dict[str, int] = {}  # canonical predicted label -> first 0-based row
    n_read = 0
    for row0, d, p in _lockstep(plan, data_cols, pred_cols, 0, None):
        n = len(d)
        n_read += n
        if plan.id_col is not None:
            ids, missing_id = _id_strings(d[plan.id_col], strip=False)
        else:
            ids = np.arange(row0, row0 + n).astype(str).astype(object)
            missing_id = np.zeros(n, dtype=bool)
        if p is not None:
            pids = _lined_up_ids(plan, p, row0, ids, missing_id)
        for r in np.flatnonzero(missing_id).tolist():
            problems.setdefault(row0 + r, ("missing id", plan.id_col or "id"))
        for col in plan.input_cols:
            for r in np.flatnonzero(_missing_mask(d[col])).tolist():
                problems.setdefault(row0 + r, ("missing input", col))
        label_column = d[plan.label_col]
        if pd.api.types.is_float_dtype(label_column):
            arr = label_column.to_numpy(dtype=float)
            ok = np.isfinite(arr)
            if not np.all(arr[ok] == np.round(arr[ok])):
                float_labels = True
        codes, canon = _label_codes(_typed(label_column, plan.data))
        for r in np.flatnonzero(codes < 0).tolist():
            problems.setdefault(row0 + r, ("missing label", plan.label_col))
        for j, c in enumerate(canon):
            if c is None:
                for r in np.flatnonzero(codes == j).tolist():
                    problems.setdefault(row0 + r, ("missing label", plan.label_col))
                continue
            label_values.add(c)
            if plan.declared is not None and c not in plan.declared:
                for r in np.flatnonzero(codes == j).tolist():
                    problems.setdefault(row0 + r, ("label not in labels", plan.label_col))
        if p is not None and plan.pred_col is not None:
            pcodes, pcanon = _label_codes(_typed(p[plan.pred_col], plan.preds_source))
            empty = np.flatnonzero(pcodes < 0)
            if len(empty) or any(c is None for c in pcanon):
                rows = [int(i) for i in empty] + [
                    int(i)
                    for j, c in enumerate(pcanon)
                    if c is None
                    for i in np.flatnonzero(pcodes == j)
                ]
                first = min(rows)
                raise ModelError(
                    f"models.{plan.model}: {plan.preds_source.path.name}: row {row0 + first + 1} (id "
                    f"{pids[first]!r}) has an empty {plan.pred_col!r} cell. Fix: fill in the "
                    f"prediction, or leave the {plan.pred_col!r} column out so that every row is "
                    "labelled with its most probable class"
                )
            for j, c in enumerate(pcanon):
                if c is not None and c not in pred_labels:
                    pred_labels[c] = row0 + int(np.argmax(pcodes == j))
        if plan.id_col is not None:
            hashes.extend(_id_hashes(ids, missing_id))
    if n_read == 0:
        raise DataError(f"{where}: has no data rows. Fix: check `path`, or export the data again.")
    if float_labels:
        raise NotStreamable("the labels are numbers with fractions (a regression target)")
    if plan.declared is not None:
        labels_found: tuple[str, ...] = plan.declared
    else:
        if len(label_values) > MAX_CLASSES:
            raise NotStreamable(f"the label column has more than {MAX_CLASSES} distinct values")
        labels_found = sort_labels(label_values)
    if plan.id_col is not None:
        for row, first in _duplicate_rows(plan, hashes).items():
            problems.setdefault(row, ("duplicate id", f"{plan.id_col}@{first}"))
    dropped: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    for row in sorted(problems):
        reason, col = problems[row]
        msg = _problem_message(plan, row, reason, col)
        if plan.on_invalid == "error":
            raise DataError(msg)
        dropped[reason] += 1
        if len(examples) < 10 and sum(e["reason"] == reason for e in examples) < 3:
            examples.append({"row": row + 1, "id": None, "reason": reason, "detail": msg})
    if len(problems) == n_read:
        raise DataError(
            f"{where}: every one of the {n_read} rows read is invalid; nothing is left to evaluate"
        )
    known = set(labels_found) | set(plan.prob_labels)
    outside = {c: r for c, r in pred_labels.items() if c not in labels_found}
    bad_probs = [c for c in plan.prob_labels if c not in labels_found]
    if bad_probs:
        raise NotStreamable(f"probability columns name classes outside the labels ({bad_probs})")
    labels = list(labels_found)
    n_outside = 0
    outside_examples: list[str] = []
    if outside:
        if not plan.other:
            label, row = min(outside.items(), key=lambda kv: kv[1])
            raise ModelError(
                f"model {plan.model!r} predicted {label!r} for row {row + 1} of "
                f"{plan.preds_source.path.name}, which is not among the labels of {plan.data.path.name}: "
                f"{', '.join(labels)} (outside them: {', '.join(map(repr, sorted(outside)[:10]))}). "
                "Fix: correct the predictions; or add the class to `labels:` in the data entry; "
                f"or set `outside_labels: other` there to count such predictions as wrong answers "
                f"of the class {OTHER_LABEL}"
            )
        n_outside, outside_examples = _count_outside(plan, labels_found, problems)
        if len(labels) != 2:
            labels.append(OTHER_LABEL)
    del known
    done = StreamPlan(
        **{
            **plan.__dict__,
            "labels": tuple(labels),
            "n_rows": n_read,
            "drop": tuple(sorted(problems)),
        }
    )
    return CheckPassResult(done, n_read, dropped, examples, n_outside, outside_examples)


class _Hashes:
    """The 64-bit hash of every row's id, in one growing array (8 bytes a row)."""

    def __init__(self, capacity: int) -> None:
        self.values = np.empty(max(capacity, 1024), dtype=np.uint64)
        self.n = 0

    def extend(self, h: np.ndarray) -> None:
        if self.n + len(h) > len(self.values):
            grown = np.empty(max(2 * len(self.values), self.n + len(h)), dtype=np.uint64)
            grown[: self.n] = self.values[: self.n]
            self.values = grown
        self.values[self.n : self.n + len(h)] = h
        self.n += len(h)


def _id_hashes(ids: np.ndarray, missing: np.ndarray) -> np.ndarray:
    h = pd.util.hash_array(ids, categorize=False)
    h[missing] = 0
    return h


def _lined_up_ids(
    plan: StreamPlan, p: pd.DataFrame, row0: int, ids: np.ndarray, missing_id: np.ndarray
) -> np.ndarray:
    """The predictions' ids of a chunk, checked to be the data's, row for row.

    Raises:
        NotStreamable: naming the first row where they differ.
    """
    pids, _ = _id_strings(p[plan.pred_id_col], strip=False)
    differ = np.flatnonzero((ids != pids) & ~missing_id)
    # the predictions model strips its ids: compare stripped only where the raw ids differ
    bad = [i for i in differ.tolist() if str(ids[i]).strip() != str(pids[i]).strip()]
    if bad:
        i = int(bad[0])
        raise NotStreamable(
            f"row {row0 + i + 1} of {plan.preds_source.path.name} has id {pids[i]!r} where row "
            f"{row0 + i + 1} of the data has {ids[i]!r}: the predictions are not in the "
            "data's order"
        )
    return pids


def _duplicate_rows(plan: StreamPlan, hashes: _Hashes) -> dict[int, int]:
    """Later rows (0-based) whose id an earlier row already had → that first row.

    The hashes are sorted in place (no copy); only when two are equal are the ids read again,
    and the rows with those hashes compared on the ids themselves."""
    s = hashes.values[: hashes.n]
    s.sort()
    dup = np.unique(s[1:][(s[1:] == s[:-1]) & (s[1:] != 0)])
    del hashes.values, s
    if not len(dup):
        return {}
    ids: dict[int, str] = {}
    for row0, d, _ in _lockstep(plan, [plan.id_col or ""], [plan.pred_id_col], 0, None):
        chunk_ids, missing = _id_strings(d[plan.id_col], strip=False)
        for i in np.flatnonzero(np.isin(_id_hashes(chunk_ids, missing), dup)).tolist():
            ids[row0 + i] = chunk_ids[i]
    first: dict[str, int] = {}
    out: dict[int, int] = {}
    for row in sorted(ids):
        if ids[row] in first:
            out[row] = first[ids[row]]
        else:
            first[ids[row]] = row
    return out


def _count_outside(
    plan: StreamPlan, labels: Sequence[str], problems: dict[int, tuple[str, str]]
) -> tuple[int, list[str]]:
    n = 0
    examples: list[str] = []
    allowed = set(labels)
    assert plan.pred_col is not None
    for row0, _, p in _lockstep(plan, [plan.label_col], [plan.pred_id_col, plan.pred_col], 0, None):
        assert p is not None
        codes, canon = _label_codes(_typed(p[plan.pred_col], plan.preds_source))
        out_codes = [j for j, c in enumerate(canon) if c not in allowed]
        for i in np.flatnonzero(np.isin(codes, out_codes)):
            if row0 + int(i) in problems:
                continue
            n += 1
            if len(examples) < MAX_UNSCORED_EXAMPLES:
                examples.append(
                    f"row {row0 + int(i) + 1} of {plan.preds_source.path.name}: {canon[codes[i]]!r}"
                )
    return n, examples


def _problem_message(plan: StreamPlan, row: int, reason: str, col: str) -> str:
    where = plan.data.label
    skip = "or set `on_invalid: skip` to drop such rows (they are counted)"
    if reason == "duplicate id":
        column, _, first = col.partition("@")
        return (
            f"{where}: rows {int(first) + 1} and {row + 1} have the same id (column {column!r}); "
            f"ids must be unique. Fix: make the ids unique, remove `id:` to number rows "
            f"automatically, {skip}."
        )
    if reason == "label not in labels":
        return (
            f"{where}: row {row + 1}, column {col!r}: the label is not in the declared labels "
            f"{list(plan.declared or ())}. Fix: correct the row, add it to `labels`, {skip}."
        )
    return (
        f"{where}: row {row + 1}, column {col!r}: found no value; a value is required in every "
        f"row of the id, input and label columns. Fix: fill in the value, remove the row, {skip}."
    )


# -- pass 2 -----------------------------------------------------------------------------------


@dataclass
class KeptRows:
    """A chunk of the files with the invalid rows left out: data rows, ids, label codes, the
    data columns and (with a file of predictions) its lined-up rows."""

    rows: np.ndarray
    ids: np.ndarray
    y_true: np.ndarray
    data: pd.DataFrame
    preds: pd.DataFrame | None


def kept_chunks(
    plan: StreamPlan,
    *,
    first_chunk: int = 0,
    stop_chunk: int | None = None,
    data_columns: Sequence[str] = (),
) -> Iterator[KeptRows]:
    """Chunks ``[first_chunk, stop_chunk)`` of the data file (and predictions), valid rows only,
    with the columns the checks asked for plus ``data_columns``."""
    c = plan.chunk_rows
    start = first_chunk * c
    stop = None if stop_chunk is None else stop_chunk * c
    wanted = [plan.id_col, plan.label_col, *plan.columns, *data_columns]
    data_cols = [col for col in dict.fromkeys(wanted) if col]
    pred_cols = [plan.pred_id_col, *([plan.pred_col] if plan.pred_col else []), *plan.prob_cols]
    drop = np.asarray(plan.drop, dtype=np.int64)
    code = {label: i for i, label in enumerate(plan.labels)}
    for row0, d, p in _lockstep(plan, data_cols, pred_cols, start, stop):
        n = len(d)
        rows = np.arange(row0, row0 + n, dtype=np.int64)
        lo, hi = np.searchsorted(drop, [row0, row0 + n])
        keep = np.ones(n, dtype=bool)
        keep[drop[lo:hi] - row0] = False
        rows = rows[keep]
        d = d.loc[keep].reset_index(drop=True)
        if p is not None:
            p = p.loc[keep].reset_index(drop=True)
        if plan.id_col is not None:
            ids = _id_strings(d[plan.id_col], strip=False)[0]
        else:
            ids = rows.astype(str).astype(object)
        yield KeptRows(
            rows, ids, _codes(_typed(d[plan.label_col], plan.data), code, other=None), d, p
        )


def encoded_chunks(
    plan: StreamPlan, *, first_chunk: int = 0, stop_chunk: int | None = None
) -> Iterator[tuple[Chunk, ChunkTally]]:
    """Chunks ``[first_chunk, stop_chunk)`` of the data file and its file of predictions,
    encoded (see :class:`Chunk`).

    Raises:
        ModelError: a probability that is not a number in [0, 1], an empty probability cell
            among filled ones, or probabilities that do not sum to 1 (within 1e-2), naming the
            file, row and column.
    """
    code = {label: i for i, label in enumerate(plan.labels)}
    for kept in kept_chunks(plan, first_chunk=first_chunk, stop_chunk=stop_chunk):
        rows, ids, y_true, d, p = kept.rows, kept.ids, kept.y_true, kept.data, kept.preds
        assert p is not None
        tally = ChunkTally(n=len(rows))
        proba = _proba(plan, p, rows, ids, tally) if plan.prob_cols else None
        if plan.pred_col is not None:
            other = code.get(OTHER_LABEL, -1)
            y_pred = _codes(_typed(p[plan.pred_col], plan.preds_source), code, other=other)
            if plan.binary and (y_pred < 0).any():
                # binary: a label outside the two is wrong either way; it becomes the other class
                y_pred = np.where(y_pred < 0, 1 - y_true, y_pred)
        else:
            assert proba is not None
            y_pred = np.argmax(proba, axis=1).astype(np.intp)
        columns = {col: d[col].to_numpy(dtype=object) for col in plan.columns if col in d}
        yield Chunk(rows, ids, y_true, y_pred, proba, columns), tally


def _codes(values: pd.Series, code: dict[str, int], *, other: int | None) -> np.ndarray:
    codes, canon = _label_codes(values)
    lookup = np.array(
        [code.get(c, -1 if other is None else other) if c is not None else -1 for c in canon]
        + [-1],
        dtype=np.intp,
    )
    return lookup[codes]  # -1 (missing) indexes the trailing -1


def _proba(
    plan: StreamPlan,
    p: pd.DataFrame,
    rows: np.ndarray,
    ids: np.ndarray,
    tally: ChunkTally,
) -> np.ndarray:
    k = len(plan.labels)
    raw = p[list(plan.prob_cols)]
    cells = raw.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    nan = np.isnan(cells)
    empty_row = nan.all(axis=1)
    partial = nan.any(axis=1) & ~empty_row
    name = plan.preds_source.path.name
    if partial.any() or (nan & ~raw.isna().to_numpy()).any():
        bad = np.argwhere(nan & ~empty_row[:, None])[0]
        i, j = int(bad[0]), int(bad[1])
        value = raw.iat[i, j]
        at = f"models.{plan.model}: {name} row {int(rows[i]) + 1} (id {ids[i]!r}), column {plan.prob_cols[j]!r}"
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise ModelError(
                f"{at} is empty (or NaN) while the row's other probability columns are filled. "
                "Fix: give every class its probability (0 for none), or leave all of them empty "
                "for a row without probabilities"
            )
        raise ModelError(f"{at}: {value!r} is not a number; write a probability in [0, 1]")
    out_of_range = ~nan & ((cells < 0) | (cells > 1))
    if out_of_range.any():
        i, j = (int(x) for x in np.argwhere(out_of_range)[0])
        raise ModelError(
            f"models.{plan.model}: {name} row {int(rows[i]) + 1} (id {ids[i]!r}), column "
            f"{plan.prob_cols[j]!r}: probability {cells[i, j]:g} is outside [0, 1]; write the "
            "class probabilities (softmax outputs), not scores or logits"
        )
    m = np.zeros((len(p), k))
    for j, label in enumerate(plan.prob_labels):
        m[:, plan.labels.index(label)] += np.where(nan[:, j], 0.0, cells[:, j])
    if empty_row.any():
        tally.no_probabilities = int(empty_row.sum())
        tally.no_probabilities_examples = [
            f"id {ids[i]!r} (row {int(rows[i]) + 1} of {name})"
            for i in np.flatnonzero(empty_row)[:MAX_UNSCORED_EXAMPLES]
        ]
        real = np.array([i for i, lab in enumerate(plan.labels) if lab != OTHER_LABEL])
        m[np.ix_(np.flatnonzero(empty_row), real)] = 1.0 / len(real)
    sums = m.sum(axis=1)
    off = np.abs(sums - 1.0)
    if (off > PROBA_SUM_TOLERANCE).any():
        i = int(np.argmax(off > PROBA_SUM_TOLERANCE))
        raise ModelError(
            f"model {plan.model!r}: the probabilities for id {ids[i]!r} (row {int(rows[i]) + 1} "
            f"of {name}) sum to {sums[i]:.6g}, not 1; return a distribution over "
            f"{', '.join(plan.labels)} (sums within {PROBA_SUM_TOLERANCE:g} of 1 are renormalised)"
        )
    renorm = off > EXACT_SUM
    if renorm.any():
        tally.renormalised = int(renorm.sum())
        tally.renormalised_min = float(sums[renorm].min())
        tally.renormalised_max = float(sums[renorm].max())
    m /= sums[:, None]
    return m
