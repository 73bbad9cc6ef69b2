"""Every format and compression round-trips: same frame, same ids, fingerprint of the bytes."""

from __future__ import annotations

import bz2
import gzip
import hashlib
from pathlib import Path

import pandas as pd
import pytest
import zstandard

from assay.data import Dataset, load_dataset, read_table

FRAME = pd.DataFrame(
    {
        "id": ["r1", "r2", "007", "r4", "r5"],
        "text": ["a good film", "dull, long", "so-so", "great \"fun\"", "meh"],
        "x": [0.5, -1.25, 3.0, 1e-3, 2.5],
        "n": [1, 2, 3, 4, 5],
        "flag": [True, False, True, True, False],
        "label": ["pos", "neg", "neg", "pos", "neg"],
    }
)
SPEC = {"id": "id", "input": "text", "label": "label"}
COMPRESSIONS = ["", ".gz", ".bz2", ".zst"]


def _compress(raw: bytes, suffix: str) -> bytes:
    if suffix == ".gz":
        return gzip.compress(raw)
    if suffix == ".bz2":
        return bz2.compress(raw)
    if suffix == ".zst":
        return zstandard.ZstdCompressor().compress(raw)
    return raw


def write(frame: pd.DataFrame, folder: Path, fmt: str, suffix: str = "") -> Path:
    """Write ``frame`` as ``fmt`` with pandas/pyarrow, then compress the bytes."""
    ext = {"csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl", "json": ".json", "parquet": ".parquet"}
    plain = folder / f"data{ext[fmt]}"
    if fmt in ("csv", "tsv"):
        frame.to_csv(plain, index=False, sep="\t" if fmt == "tsv" else ",")
    elif fmt in ("jsonl", "json"):
        frame.to_json(plain, orient="records", lines=True)
    else:
        frame.to_parquet(plain, index=False)
    if not suffix:
        return plain
    out = plain.with_name(plain.name + suffix)
    out.write_bytes(_compress(plain.read_bytes(), suffix))
    plain.unlink()
    return out


def expected(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_axis(pd.Index(frame["id"].astype(str).tolist()), axis=0)


@pytest.mark.parametrize("suffix", COMPRESSIONS)
@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_round_trip(tmp_path: Path, fmt: str, suffix: str) -> None:
    path = write(FRAME, tmp_path, fmt, suffix)
    ds = load_dataset({"path": path.name, **SPEC}, base_dir=tmp_path)
    assert isinstance(ds, Dataset)
    pd.testing.assert_frame_equal(ds.frame, expected(FRAME))
    assert ds.ids == ["r1", "r2", "007", "r4", "r5"]  # "007" keeps its zeros
    assert ds.n_read == 5 and ds.dropped == {} and ds.labels == ("neg", "pos")
    assert ds.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()
    # whole-table reading gives the same columns, with a RangeIndex
    table = read_table(path)
    pd.testing.assert_frame_equal(table.drop(columns="id"), FRAME.drop(columns="id"))


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_explicit_format_overrides_the_extension(tmp_path: Path, fmt: str) -> None:
    path = write(FRAME, tmp_path, fmt, ".gz")
    odd = path.with_name("export.dat.gz")
    path.rename(odd)
    ds = load_dataset({"path": str(odd), "format": fmt, **SPEC})
    pd.testing.assert_frame_equal(ds.frame, expected(FRAME))


def test_hf_save_to_disk_folder(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    datasets.disable_progress_bars()
    folder = tmp_path / "hf"
    # Several shards, so the folder has more than one Arrow file to read in order.
    datasets.Dataset.from_pandas(FRAME, preserve_index=False).save_to_disk(
        str(folder), num_shards=2
    )
    files = sorted(folder.glob("*.arrow"))
    assert len(files) == 2
    for chunk_rows in (1, 2, 100):
        ds = load_dataset({"path": "hf", **SPEC}, base_dir=tmp_path, chunk_rows=chunk_rows)
        pd.testing.assert_frame_equal(ds.frame, expected(FRAME))
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    assert ds.fingerprint == digest
    limited = load_dataset({"path": str(folder), "limit": 3, **SPEC})
    assert limited.ids == ["r1", "r2", "007"] and limited.n_read == 3


def test_hf_class_label_column_is_integers(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    datasets.disable_progress_bars()
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    d = datasets.Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 1, 1]}, features=features)
    d.save_to_disk(str(tmp_path / "cl"))
    ds = load_dataset({"path": str(tmp_path / "cl"), "input": "text", "label": "label"})
    assert ds.ids == ["0", "1", "2"] and ds.labels == ("0", "1")
    assert ds.label_strings() == ["0", "1", "1"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("chunk_rows", [1, 2, 3])
def test_chunked_reading_equals_whole_reading(tmp_path: Path, fmt: str, chunk_rows: int) -> None:
    frame = FRAME.copy()
    frame["maybe"] = [1.0, None, 3.0, None, 5.0]
    path = write(frame, tmp_path, fmt)
    whole = load_dataset({"path": str(path), **SPEC})
    chunked = load_dataset({"path": str(path), **SPEC}, chunk_rows=chunk_rows)
    pd.testing.assert_frame_equal(chunked.frame, whole.frame)
    pd.testing.assert_frame_equal(read_table(path, chunk_rows=chunk_rows), read_table(path))


def test_row_number_ids_and_limit(tmp_path: Path) -> None:
    path = write(FRAME.drop(columns="id"), tmp_path, "csv")
    ds = load_dataset(str(path))  # a bare path: no roles
    assert ds.ids == ["0", "1", "2", "3", "4"] and ds.labels is None
    limited = load_dataset({"path": str(path), "limit": 2, "input": "text"}, chunk_rows=1)
    assert limited.ids == ["0", "1"] and limited.n_read == 2


def test_labels_inferred_or_declared(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": list("abcdefghijkl"), "y": [2, 10, 1, 2, 10, 1] * 2,
                          "score": [0.1 * i for i in range(12)]})
    path = write(frame, tmp_path, "csv")
    assert load_dataset({"path": str(path), "label": "y"}).labels == ("1", "2", "10")
    assert load_dataset({"path": str(path), "label": "score"}).labels is None
    declared = load_dataset({"path": str(path), "label": "y", "labels": [10, 2, 1]})
    assert declared.labels == ("10", "2", "1")


def test_numeric_labels_match_declared_strings(tmp_path: Path) -> None:
    # A float column (ints promoted by a gap) still matches labels declared as "0"/"1".
    frame = pd.DataFrame({"text": ["a", "b", "c"], "y": [0.0, 1.0, 1.0]})
    for fmt in ("csv", "jsonl", "parquet"):
        path = write(frame, tmp_path, fmt)
        ds = load_dataset({"path": str(path), "label": "y", "labels": ["0", "1"]})
        assert ds.label_strings() == ["0", "1", "1"]


def test_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    FRAME.to_json(path, orient="records")
    ds = load_dataset({"path": str(path), **SPEC})
    pd.testing.assert_frame_equal(ds.frame, expected(FRAME))


def test_jsonl_keys_missing_from_later_records(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"id": 1, "text": "a", "extra": 1}\n\n{"id": 2, "text": "b"}\n{"id": 3, "text": "c"}\n'
    )
    ds = load_dataset({"path": str(path), "id": "id", "input": "text"}, chunk_rows=1)
    assert ds.ids == ["1", "2", "3"]
    assert ds.frame["extra"].isna().tolist() == [False, True, True]


def test_the_report_records_the_resolved_path_and_the_content_hash(tmp_path: Path) -> None:
    from assay.data import load_dataset

    folder = tmp_path / "suites"
    folder.mkdir()
    (tmp_path / "test.csv").write_text("id,text,label\n1,a,x\n2,b,y\n", encoding="utf-8")
    info = load_dataset({"path": "../test.csv", "label": "label"}, base_dir=folder).info()
    assert info["path"] == "../test.csv"  # as written in the suite
    assert info["resolved_path"] == str((tmp_path / "test.csv").resolve())
    assert hashlib.sha256((tmp_path / "test.csv").read_bytes()).hexdigest() in info["fingerprint"]
