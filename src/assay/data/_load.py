"""``load_dataset``: read, validate and index a dataset described by a ``DatasetSpec``."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from assay._types import canonical_label
from assay.config._suite import DatasetSpec
from assay.data._dataset import Dataset
from assay.data._formats import resolve_source
from assay.data._images import IMAGE_NOT_READABLE, ImageRef, resolve_image
from assay.data._labelset import declared_labels, infer_label_set, near_duplicate_labels
from assay.data._readers import DEFAULT_CHUNK_ROWS, finalize, iter_chunks
from assay.data._validate import (
    ChunkResult,
    Problem,
    RowValidator,
    check_columns,
    role_columns,
)
from assay.errors import ConfigError, DataError

__all__ = ["MAX_DROPPED_EXAMPLES", "dataset_from_frame", "load_dataset"]

#: How many dropped rows a Dataset keeps as examples, in total and per reason.
MAX_DROPPED_EXAMPLES = 10
_EXAMPLES_PER_REASON = 3


def load_dataset(
    spec: DatasetSpec | dict[str, Any] | str | Path,
    *,
    name: str = "test",
    base_dir: Path = Path("."),
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Dataset:
    """Read a dataset, check it against its column roles, and index it by id.

    The file is streamed in chunks of ``chunk_rows`` rows: columns are checked on the first
    chunk, rows and ids on every chunk, and reading stops after ``spec.limit`` rows.

    Args:
        spec: a ``DatasetSpec``, a mapping of its fields, or just a path (no roles).
        name: the dataset's name in the suite.
        base_dir: folder that a relative ``spec.path`` is resolved against (the suite's folder).
        chunk_rows: rows per streamed chunk.

    Returns:
        A ``Dataset`` whose frame holds the valid rows in file order, indexed by string ids
        (the ``id`` column, else the 0-based row number), with every column of the file.

    Raises:
        ConfigError: ``spec`` is a mapping with invalid fields.
        DataError: the file is missing, empty or malformed; a role names a missing column; or a
            row is invalid (missing id/input/label, label outside ``labels``, duplicate id) under
            ``on_invalid: error``, or every row is invalid under ``on_invalid: skip``. The message
            names the file, the 1-based data row, the column, and the fix.

    Example:
        >>> import pandas as pd, tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> frame = pd.DataFrame({"id": ["a", "b"], "text": ["good", "bad"],
        ...                       "label": ["pos", "neg"]})
        >>> frame.to_csv(d / "test.csv", index=False)
        >>> ds = load_dataset({"path": "test.csv", "id": "id", "input": "text", "label": "label"},
        ...                   base_dir=d)
        >>> ds.ids, ds.labels
        (['a', 'b'], ('neg', 'pos'))
    """
    spec = _as_spec(spec, name)
    source = resolve_source(spec.path, format=spec.format, base_dir=base_dir)
    chunks = iter_chunks(source, chunk_rows=chunk_rows, limit=spec.limit)
    dataset = _validated(
        chunks,
        spec,
        name=name,
        where=source.label,
        format=source.format,
        fingerprint=source.fingerprint,
        image_search=(Path(source.path).resolve().parent, Path(base_dir).resolve()),
        image_store=Path(base_dir) / ".assay" / "images",
    )
    dataset.resolved_path = str(Path(source.path).resolve())
    return dataset


def dataset_from_frame(
    frame: pd.DataFrame,
    spec: DatasetSpec | dict[str, Any],
    *,
    name: str = "test",
) -> Dataset:
    """A ``Dataset`` from a table already in memory (a notebook's DataFrame), checked exactly as
    :func:`load_dataset` checks a file; ``spec.path`` only names it in messages.

    Ids come from ``spec.id``; without one, from the frame's index when it is not the default
    ``0..n-1`` (kept as a column named after the index, ``index`` when unnamed), else the 0-based
    row number. The fingerprint hashes the column names, the index and every value.

    Raises:
        DataError: as :func:`load_dataset`, naming the 1-based row and the column.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}, index=[10, 20])
        >>> ds = dataset_from_frame(frame, {"path": "<DataFrame>", "input": ["x"], "label": "y"})
        >>> ds.ids, ds.spec.id
        (['10', '20'], 'index')
    """
    spec = _as_spec(spec, name)
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    default_index = isinstance(frame.index, pd.RangeIndex) and frame.index.equals(
        pd.RangeIndex(len(frame))
    )
    if spec.id is None and not default_index:
        column = str(frame.index.name or "index")
        if column in frame.columns:
            raise DataError(
                f"{spec.path}: ids would come from the index, but a column is already called "
                f"{column!r}. Fix: name the id column (id=...) or reset the index."
            )
        frame = frame.reset_index(names=column)
        spec = spec.model_copy(update={"id": column})
    frame = frame.reset_index(drop=True)
    if spec.limit is not None:
        frame = frame.head(spec.limit)

    def fingerprint() -> str:
        h = hashlib.sha256(json.dumps(list(frame.columns)).encode())
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        return h.hexdigest()

    return _validated(
        iter([frame]),
        spec,
        name=name,
        where=spec.path,
        format="frame",
        fingerprint=fingerprint,
        image_search=(Path.cwd(),),
        image_store=Path(".assay") / "images",
    )


def _validated(
    chunks: Iterator[pd.DataFrame],
    spec: DatasetSpec,
    *,
    name: str,
    where: str,
    format: str,
    fingerprint: Callable[[], str],
    image_search: tuple[Path, ...] = (),
    image_store: Path = Path(".assay") / "images",
) -> Dataset:
    allowed = declared_labels(spec.labels, where=where)
    text_source = format in ("csv", "tsv")
    validator = RowValidator(spec, where=where, allowed_labels=allowed, text_source=text_source)
    needed = [col for _, col in role_columns(spec)]

    columns: list[Any] | None = None
    kept: list[pd.DataFrame] = []
    row_numbers: list[int] = []
    n_read = 0
    dropped: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    images: _Images | None = None
    if isinstance(spec.input, dict):
        images = _Images(spec.input["image"], where, search=image_search, store=image_store)
    for chunk in chunks:
        if columns is None:
            columns = list(chunk.columns)
            check_columns(spec, columns, where)
        else:
            # JSON lines may leave a key out of every record of a later chunk: the column is
            # there, its values are missing.
            absent = [c for c in needed if c not in chunk.columns]
            if absent:
                chunk = chunk.assign(**{c: None for c in absent})
        if chunk.empty:
            continue
        result = validator.check(chunk, first_row=n_read + 1)
        keep, problems = result.keep, result.problems
        if images is not None:
            chunk, keep, problems = images.check(chunk, result, first_row=n_read + 1)
        row_numbers += [n_read + 1 + i for i in np.flatnonzero(keep).tolist()]
        n_read += len(chunk)
        if problems:
            if spec.on_invalid == "error":
                raise DataError(problems[0].message)
            _record(problems, dropped, examples)
        good = chunk.loc[keep]
        if not good.empty:
            ids = [i for i, k in zip(result.ids, keep, strict=True) if k]
            kept.append(good.set_axis(pd.Index(ids), axis=0))

    if columns is None:
        raise DataError(
            f"{where}: is empty (no columns, no rows). Fix: check `path`, or export the data again."
        )
    if n_read == 0:
        raise DataError(
            f"{where}: has columns {[str(c) for c in columns]} but no data rows. Fix: check "
            "`path`, or export the data again."
        )
    if not kept:
        counts = ", ".join(f"{r}: {k}" for r, k in dropped.most_common())
        raise DataError(
            f"{where}: every one of the {n_read} rows read is invalid ({counts}); nothing is left "
            f"to evaluate. First: {examples[0]['detail'] if examples else '?'}"
        )

    frame = kept[0] if len(kept) == 1 else pd.concat(kept, sort=False)
    frame = finalize(frame, format, keep=[spec.id] if spec.id else [])
    if allowed is not None:
        labels: tuple[str, ...] | None = allowed
    elif spec.label is not None:
        labels = infer_label_set(frame[spec.label])
        if labels is not None:
            _refuse_near_duplicates(frame[spec.label], labels, row_numbers, where=where)
    else:
        labels = None
    data_fingerprint = fingerprint()
    if images is not None:
        data_fingerprint = images.fingerprint(data_fingerprint, frame)
    return Dataset(
        name=name,
        spec=spec,
        frame=frame,
        fingerprint=data_fingerprint,
        labels=labels,
        n_read=n_read,
        dropped=dict(dropped),
        dropped_examples=examples,
        row_numbers=row_numbers,
        images=images.refs if images is not None else {},
    )


class _Images:
    """The image column of a dataset being read: each value resolved and decoded once
    (``assay.data._images``); a value that is not found or does not decode is an invalid row."""

    def __init__(self, column: str, where: str, *, search: tuple[Path, ...], store: Path) -> None:
        self.column = column
        self.where = where
        self.search = search
        self.store = store
        #: the frame's value (a path as written, or the file bytes/arrays were written to) → ref
        self.refs: dict[str, ImageRef] = {}

    def check(
        self, chunk: pd.DataFrame, result: ChunkResult, *, first_row: int
    ) -> tuple[pd.DataFrame, np.ndarray, list[Problem]]:
        keep = result.keep.copy()
        problems = list(result.problems)
        values = chunk[self.column].tolist()
        stored = list(values)
        for i in np.flatnonzero(keep).tolist():
            value = values[i]
            try:
                if isinstance(value, str) and value in self.refs:
                    continue
                ref = resolve_image(value, search=self.search, store=self.store)
            except DataError as e:
                row = first_row + i
                problems.append(
                    Problem(
                        row,
                        result.ids[i],
                        IMAGE_NOT_READABLE,
                        f"{self.where}: row {row}, column {self.column!r} (the image input): "
                        f"{e}. Fix: correct or replace the image, or set `on_invalid: skip` "
                        "to drop such rows.",
                    )
                )
                keep[i] = False
                continue
            key = value if isinstance(value, str) else ref.path
            stored[i] = key
            self.refs[key] = ref
        problems.sort(key=lambda p: p.row)
        if any(a is not b for a, b in zip(stored, values)):
            chunk = chunk.assign(
                **{self.column: pd.Series(stored, index=chunk.index, dtype=object)}
            )
        return chunk, keep, problems

    def fingerprint(self, table: str, frame: pd.DataFrame) -> str:
        """The table's fingerprint together with the bytes of every image it points at."""
        h = hashlib.sha256(table.encode())
        for value in frame[self.column].tolist():
            h.update(self.refs[str(value)].sha256.encode())
        return h.hexdigest()


def _refuse_near_duplicates(
    values: pd.Series, labels: tuple[str, ...], rows: list[int], *, where: str
) -> None:
    """Refuse inferred labels that differ only in case or spacing ("Sports" next to "sports"):
    a typo in the data would otherwise become a class of its own in every average."""
    groups = near_duplicate_labels(labels)
    if not groups:
        return
    canonical = [canonical_label(v) if not _is_missing(v) else None for v in values.tolist()]
    spelled = []
    for group in groups[:3]:
        parts = []
        for label in group:
            at = [rows[i] for i, c in enumerate(canonical) if c == label]
            shown = ", ".join(map(str, at[:3])) + (", …" if len(at) > 3 else "")
            parts.append(f"{label!r} ({len(at)} row{'s' if len(at) != 1 else ''}: {shown})")
        spelled.append(" and ".join(parts))
    raise DataError(
        f"{where}: column {values.name!r} has labels that differ only in case or spacing: "
        f"{'; '.join(spelled)}. A typo would become a class of its own. Fix: correct the data, "
        "or declare the classes with `labels: [...]` in the data entry (a row whose label is not "
        "listed is then refused, naming its row)."
    )


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _as_spec(spec: DatasetSpec | dict[str, Any] | str | Path, name: str) -> DatasetSpec:
    if isinstance(spec, DatasetSpec):
        return spec
    if isinstance(spec, (str, Path)):
        return DatasetSpec(path=str(spec))
    if isinstance(spec, dict):
        labels = spec.get("labels")
        if isinstance(labels, list):
            # `labels: [0, 1]` is natural in YAML; labels are compared as canonical strings.
            spec = {**spec, "labels": [_label_text(v) for v in labels]}
        try:
            return DatasetSpec.model_validate(spec)
        except ValidationError as e:
            problems = "; ".join(
                f"data.{name}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in e.errors()
            )
            raise ConfigError(f"dataset {name!r} is invalid: {problems}") from e
    raise ConfigError(
        f"dataset {name!r}: expected a DatasetSpec, a mapping or a path, got "
        f"{type(spec).__name__}. Fix: pass e.g. {{'path': 'test.csv', 'label': 'label'}}."
    )


def _label_text(value: Any) -> Any:
    try:
        return value if isinstance(value, str) else canonical_label(value)
    except ValueError:
        return value  # None/NaN: let validation name it


def _record(problems: list[Problem], dropped: Counter[str], examples: list[dict[str, Any]]) -> None:
    for p in problems:
        dropped[p.reason] += 1
        if len(examples) < MAX_DROPPED_EXAMPLES and (
            sum(e["reason"] == p.reason for e in examples) < _EXAMPLES_PER_REASON
        ):
            examples.append(p.example())
