"""Where a dataset lives and how its bytes are laid out: format, compression, files, fingerprint."""

from __future__ import annotations

import bz2
import difflib
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, cast

from assay.errors import DataError

__all__ = ["FORMATS", "Source", "open_binary", "resolve_source"]

Format = Literal["csv", "tsv", "jsonl", "parquet", "hf"]
Compression = Literal["gz", "bz2", "zst"]

FORMATS: tuple[Format, ...] = ("csv", "tsv", "jsonl", "parquet", "hf")

_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMPRESSIONS: dict[str, Compression] = {".gz": "gz", ".gzip": "gz", ".bz2": "bz2", ".zst": "zst"}
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Source:
    """A resolved dataset location.

    Attributes:
        path: the file or folder, as resolved.
        format: the table format.
        compression: the compression of a single file, if any.
        files: the files whose bytes make up the data, in order (one for a file; the Arrow shards
            of a Hugging Face folder).
    """

    path: Path
    format: Format
    compression: Compression | None
    files: tuple[Path, ...]

    @property
    def label(self) -> str:
        """How messages name this source."""
        return str(self.path)

    def fingerprint(self) -> str:
        """sha256 over the bytes of every data file, in order, read in blocks."""
        h = hashlib.sha256()
        for f in self.files:
            with f.open("rb") as fh:
                while block := fh.read(_HASH_BLOCK):
                    h.update(block)
        return h.hexdigest()


def resolve_source(
    path: str | Path, *, format: str = "auto", base_dir: Path | None = None
) -> Source:
    """Resolve a path against ``base_dir`` and work out its format and compression.

    Raises:
        DataError: the path does not exist, its extension is unknown, or a folder is not a
            Hugging Face ``save_to_disk`` folder (a ``DatasetDict`` folder names its splits).
    """
    given = Path(path).expanduser()
    p = given if given.is_absolute() or base_dir is None else Path(base_dir) / given
    if not p.exists():
        raise DataError(_not_found_message(p, given, base_dir))
    if p.is_dir():
        if format not in ("auto", "hf"):
            raise DataError(
                f"{p}: is a folder, but `format: {format}` reads a single file. "
                "Fix: point `path` at the file, or use `format: hf` for a Hugging Face "
                "`save_to_disk` folder."
            )
        return Source(p, "hf", None, _hf_files(p))
    if format == "hf":
        raise DataError(
            f"{p}: `format: hf` expects a folder written by `datasets.Dataset.save_to_disk`, "
            "found a file. Fix: point `path` at the folder, or set `format` to the file's format "
            f"({', '.join(f for f in FORMATS if f != 'hf')})."
        )
    suffixes = [s.lower() for s in p.suffixes]
    compression: Compression | None = None
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        compression = _COMPRESSIONS[suffixes.pop()]
    if format != "auto":
        if format not in FORMATS:
            raise DataError(
                f"{p}: unknown format {format!r}. Allowed: auto, {', '.join(FORMATS)}."
            )
        return Source(p, format, compression, (p,))
    ext = suffixes[-1] if suffixes else ""
    if ext not in _EXTENSIONS:
        known = ", ".join(sorted(_EXTENSIONS))
        found = f"extension {ext!r}" if ext else "no extension"
        raise DataError(
            f"{p}: cannot tell the format from the file name ({found}). Known extensions: "
            f"{known}, each optionally followed by .gz, .bz2 or .zst. Fix: rename the file, or "
            f"set `format:` to one of {', '.join(FORMATS)}."
        )
    return Source(p, _EXTENSIONS[ext], compression, (p,))


@contextmanager
def open_binary(path: Path, compression: Compression | None) -> Iterator[IO[bytes]]:
    """Open a file for reading its decompressed bytes as a stream."""
    if compression == "gz":
        with gzip.open(path, "rb") as gz:
            yield cast(IO[bytes], gz)
    elif compression == "bz2":
        with bz2.open(path, "rb") as bz:
            yield cast(IO[bytes], bz)
    elif compression == "zst":
        import zstandard

        with path.open("rb") as raw:
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            # BufferedReader gives the stream readline() and peek(), which the readers use.
            with io.BufferedReader(reader) as fh:
                yield fh
    else:
        with path.open("rb") as fh:
            yield fh


def _hf_files(folder: Path) -> tuple[Path, ...]:
    dict_file = folder / "dataset_dict.json"
    if dict_file.exists():
        listed = _read_json(dict_file).get("splits")
        splits = (
            [str(s) for s in listed]
            if isinstance(listed, list) and listed
            else sorted(d.name for d in folder.iterdir() if (d / "state.json").exists())
        )
        example = splits[0] if splits else "test"
        raise DataError(
            f"{folder}: is a Hugging Face DatasetDict with splits {splits}; a dataset is one "
            f"split. Fix: pick one in `path`, e.g. `path: {folder.name}/{example}`."
        )
    state_file = folder / "state.json"
    if not state_file.exists():
        present = sorted(p.name for p in folder.iterdir())[:20]
        raise DataError(
            f"{folder}: is a folder but not a Hugging Face `save_to_disk` folder (no state.json; "
            f"found {present}). Fix: point `path` at a data file (csv, tsv, jsonl, parquet) or at "
            "a folder written by `datasets.Dataset.save_to_disk`."
        )
    state = _read_json(state_file)
    entries = state.get("_data_files")
    if not isinstance(entries, list) or not entries:
        raise DataError(
            f"{state_file}: lists no `_data_files`; the folder holds no data. Fix: save the "
            "dataset again with `datasets.Dataset.save_to_disk`."
        )
    files: list[Path] = []
    for entry in entries:
        name = entry.get("filename") if isinstance(entry, dict) else None
        f = folder / str(name)
        if not name or not f.exists():
            raise DataError(
                f"{state_file}: lists data file {name!r}, which is not in the folder. Fix: copy "
                "the whole folder, or save the dataset again with `save_to_disk`."
            )
        files.append(f)
    return tuple(files)


def _read_json(path: Path) -> dict[str, object]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot be read as JSON ({e}).") from e
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a JSON object, found {type(value).__name__}.")
    return value


def _not_found_message(p: Path, given: Path, base_dir: Path | None) -> str:
    relative = base_dir is not None and not given.is_absolute()
    where = f" (resolved against {base_dir})" if relative else ""
    msg = f"{p}: no such file or folder{where}."
    parent = p.parent
    if parent.is_dir():
        names = [c.name for c in parent.iterdir()]
        close = difflib.get_close_matches(p.name, names, n=3, cutoff=0.6)
        if close:
            msg += f" Did you mean {', '.join(repr(c) for c in close)}?"
    else:
        msg += f" The folder {parent} does not exist either."
    return msg + " Fix: correct `path` (relative paths resolve against the suite file's folder)."
