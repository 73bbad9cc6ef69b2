"""Readers: a table in any supported format, streamed as pandas chunks.

Every reader yields ``DataFrame`` chunks with a fresh ``RangeIndex`` and stops after ``limit`` rows.
Column types are settled once, on the concatenated rows, by :func:`finalize`, so they cannot
depend on where chunk boundaries fall (a chunk whose values happen to be all missing, or all
integers, would otherwise get a type of its own): CSV and TSV are read as strings, JSON lines as
Python objects, and Arrow integer/boolean columns with nulls as Python objects.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from assay.data._formats import Source, open_binary, resolve_source
from assay.errors import DataError

__all__ = ["DEFAULT_CHUNK_ROWS", "coerce_text_columns", "finalize", "iter_chunks", "read_table"]

#: Rows per chunk when streaming; small enough to bound memory, large enough to be fast.
DEFAULT_CHUNK_ROWS = 50_000

_BOOL_WORDS = {"true": True, "false": False}


def read_table(
    path: str | Path,
    *,
    format: str = "auto",
    limit: int | None = None,
    base_dir: Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> pd.DataFrame:
    """Read a whole table (no validation, no column roles) with a ``RangeIndex``.

    Args:
        path: a CSV, TSV, JSONL (``.json`` lines) or Parquet file, optionally ``.gz``, ``.bz2`` or
            ``.zst`` compressed, or a folder written by ``datasets.Dataset.save_to_disk``.
        format: ``auto`` (from the extension before any compression suffix) or one of ``csv``,
            ``tsv``, ``jsonl``, ``parquet``, ``hf``.
        limit: read at most this many rows.
        base_dir: folder that a relative ``path`` is resolved against.
        chunk_rows: rows per streamed chunk.

    Returns:
        The rows in file order. CSV/TSV columns are typed as pandas would type them (numbers,
        booleans, strings).

    Raises:
        DataError: the file is missing, empty, malformed or of an unknown format.

    Example:
        >>> import pandas as pd, tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> pd.DataFrame({"x": [1, 2]}).to_csv(p, index=False)
        >>> read_table(p)["x"].tolist()
        [1, 2]
    """
    source = resolve_source(path, format=format, base_dir=base_dir)
    chunks = list(iter_chunks(source, chunk_rows=chunk_rows, limit=limit))
    return finalize(_concat(chunks), source.format)


def finalize(frame: pd.DataFrame, format: str, *, keep: Iterable[str] = ()) -> pd.DataFrame:
    """Give the concatenated chunks of a ``format`` table their column types.

    CSV/TSV strings become numbers or booleans where every value parses
    (:func:`coerce_text_columns`); object columns from other formats get the type their values
    share (``infer_objects``, which never parses strings). CSV columns in ``keep`` (the id
    column) stay strings.
    """
    if format in ("csv", "tsv"):
        return coerce_text_columns(frame, keep=keep)
    return frame.infer_objects()


def iter_chunks(
    source: Source, *, chunk_rows: int = DEFAULT_CHUNK_ROWS, limit: int | None = None
) -> Iterator[pd.DataFrame]:
    """Stream ``source`` as chunks of at most ``chunk_rows`` rows.

    A table with columns but no rows yields one empty chunk that carries the columns; a file
    with nothing in it yields nothing.

    Raises:
        DataError: the bytes cannot be decoded or parsed; names the file and the parser's message.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    readers = {
        "csv": _csv_chunks,
        "tsv": _csv_chunks,
        "jsonl": _jsonl_chunks,
        "parquet": _parquet_chunks,
        "hf": _hf_chunks,
    }
    chunks = readers[source.format](source, chunk_rows, limit)
    try:
        yield from _limited(chunks, limit)
    except DataError:
        raise
    except UnicodeDecodeError as e:
        raise DataError(
            f"{source.label}: is not UTF-8 text (byte {e.start}: {e.reason}). "
            "Fix: save the file as UTF-8."
        ) from e
    except pd.errors.EmptyDataError:
        return
    except pd.errors.ParserError as e:
        raise DataError(
            f"{source.label}: cannot be parsed as {source.format.upper()}: {e}. Fix: check the "
            "quoting and the number of fields on that line, or the delimiter (`format: tsv` for "
            "tab-separated files)."
        ) from e
    except (OSError, EOFError, ValueError) as e:
        # Corrupt compression (gzip/bz2/zstd raise OSError/EOFError/ZstdError) or a file that
        # is not what its extension says (pyarrow raises ArrowInvalid, a ValueError).
        raise DataError(
            f"{source.label}: cannot be read as {_describe(source)}: {e}. Fix: check that the "
            "file is complete and that its extension (or `format:`) matches its contents."
        ) from e
    except Exception as e:
        if type(e).__module__.startswith("zstandard"):
            raise DataError(f"{source.label}: cannot be decompressed as zstd: {e}.") from e
        raise


def coerce_text_columns(frame: pd.DataFrame, *, keep: Iterable[str] = ()) -> pd.DataFrame:
    """Type string columns read from CSV: numbers, then booleans; others stay strings.

    Done on whole columns so that the result does not depend on the chunk size. Columns in
    ``keep`` (the id column) stay strings.
    """
    kept = set(keep)
    out = {}
    for col in frame.columns:
        out[col] = frame[col] if col in kept else _coerce(frame[col])
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


def _coerce(s: pd.Series) -> pd.Series:
    if not (pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)):
        return s
    present = s.dropna()
    if present.empty:
        return s.astype("float64")
    try:
        return pd.to_numeric(s)
    except (ValueError, TypeError):
        pass
    if not s.isna().any():
        lowered = set(present.astype(str).str.strip().str.lower().unique())
        if lowered <= set(_BOOL_WORDS):
            return s.astype(str).str.strip().str.lower().map(_BOOL_WORDS).astype(bool)
    return s


def _limited(chunks: Iterator[pd.DataFrame], limit: int | None) -> Iterator[pd.DataFrame]:
    seen = 0
    for chunk in chunks:
        if limit is not None and seen + len(chunk) >= limit:
            yield chunk.iloc[: limit - seen].reset_index(drop=True)
            return
        seen += len(chunk)
        yield chunk


def _concat(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    if not chunks:
        return pd.DataFrame()
    nonempty = [c for c in chunks if len(c)] or chunks[:1]
    if len(nonempty) == 1:
        return nonempty[0].reset_index(drop=True)
    return pd.concat(nonempty, ignore_index=True, sort=False)


def _describe(source: Source) -> str:
    name = source.format.upper() if source.format != "hf" else "a Hugging Face dataset folder"
    return f"{source.compression}-compressed {name}" if source.compression else name


# --- CSV / TSV -------------------------------------------------------------------------------


def _csv_chunks(source: Source, chunk_rows: int, limit: int | None) -> Iterator[pd.DataFrame]:
    sep = "\t" if source.format == "tsv" else ","
    with open_binary(source.path, source.compression) as fh:
        reader = pd.read_csv(
            fh,
            sep=sep,
            dtype=str,
            chunksize=chunk_rows,
            nrows=limit,
            encoding="utf-8-sig",
        )
        with reader:
            yield from reader


# --- JSON lines ------------------------------------------------------------------------------


def _jsonl_chunks(source: Source, chunk_rows: int, limit: int | None) -> Iterator[pd.DataFrame]:
    with open_binary(source.path, source.compression) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig")
        first = _peek_nonspace(text)
        if first == "":
            return
        if first == "[":
            yield from _json_array_chunks(source, text, chunk_rows)
            return
        records: list[dict[str, Any]] = []
        n = 0
        for lineno, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{source.label}: line {lineno} is not valid JSON: {e.msg} (column {e.colno}). "
                    "Each line must hold one JSON object, e.g. "
                    '{"id": "1", "text": "...", "label": "pos"}. Fix: correct or remove that line.'
                ) from e
            if not isinstance(value, dict):
                raise DataError(
                    f"{source.label}: line {lineno} holds a JSON {_json_kind(value)}, not an "
                    "object. Each line must hold one object whose keys are the column names. "
                    "Fix: write the rows as objects "
                    "(pandas: `to_json(orient='records', lines=True)`)."
                )
            records.append(value)
            n += 1
            if len(records) >= chunk_rows:
                yield _records_frame(records)
                records = []
            if limit is not None and n >= limit:
                break
        if records:
            yield _records_frame(records)


def _json_array_chunks(
    source: Source, text: io.TextIOWrapper, chunk_rows: int
) -> Iterator[pd.DataFrame]:
    # A `.json` file holding one array of objects cannot be streamed; it is read whole.
    try:
        value = json.load(text)
    except json.JSONDecodeError as e:
        raise DataError(
            f"{source.label}: is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno}). "
            "Fix: correct the file, or write one JSON object per line (JSONL)."
        ) from e
    bad = next((i for i, v in enumerate(value) if not isinstance(v, dict)), None)
    if bad is not None:
        raise DataError(
            f"{source.label}: item {bad + 1} of the JSON array is a {_json_kind(value[bad])}, not "
            "an object. Fix: make every item an object whose keys are the column names."
        )
    for start in range(0, len(value), chunk_rows):
        yield _records_frame(value[start : start + chunk_rows])


def _records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records).astype(object)


def _peek_nonspace(text: io.TextIOWrapper) -> str:
    # TextIOWrapper cannot seek back after reading a compressed stream, so peek through the
    # buffer underneath: the first non-space byte tells JSON lines from a JSON array.
    peek = getattr(text.buffer, "peek", None)
    head = peek(4096) if peek is not None else b""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return chr(stripped[0]) if stripped else ("" if not head else " ")


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


# --- Parquet and Arrow -----------------------------------------------------------------------


def _parquet_chunks(source: Source, chunk_rows: int, limit: int | None) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if source.compression is None:
        file = pq.ParquetFile(source.path)
    else:
        # Parquet needs random access; a compressed file is decompressed into memory first.
        with open_binary(source.path, source.compression) as fh:
            file = pq.ParquetFile(pa.BufferReader(fh.read()))
    with file:
        any_rows = False
        for batch in file.iter_batches(batch_size=chunk_rows):
            any_rows = True
            yield _arrow_frame(batch)
        if not any_rows:
            yield file.schema_arrow.empty_table().to_pandas()


def _hf_chunks(source: Source, chunk_rows: int, limit: int | None) -> Iterator[pd.DataFrame]:
    import pyarrow as pa

    schema = None
    any_rows = False
    for f in source.files:
        with pa.memory_map(str(f)) as mm:
            try:
                reader = pa.ipc.open_stream(mm)
            except pa.ArrowInvalid:
                reader = pa.ipc.open_file(mm)
            schema = reader.schema
            for batch in _batches(reader):
                for start in range(0, batch.num_rows, chunk_rows):
                    piece = batch.slice(start, chunk_rows)
                    if piece.num_rows:
                        any_rows = True
                        yield _arrow_frame(piece)
    if not any_rows and schema is not None:
        yield schema.empty_table().to_pandas()


def _arrow_frame(batch: Any) -> pd.DataFrame:
    # Integer columns with nulls come out as objects (not floats) so that `finalize` types the
    # column the same way whichever chunk the nulls fell in.
    return batch.to_pandas(integer_object_nulls=True)


def _batches(reader: Any) -> Iterator[Any]:
    if hasattr(reader, "num_record_batches"):  # IPC file format
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)
    else:
        yield from reader
