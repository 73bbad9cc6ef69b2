"""Each error names the file, the 1-based data row, the column, what was found and the fix."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from assay.data import load_dataset, read_table
from assay.errors import ConfigError, DataError

ROWS = "id,text,label\na,good film,pos\nb,bad film,neg\nc,fine,pos\n"


def csv(tmp_path: Path, text: str, name: str = "test.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def load(path: Path, **roles: object) -> object:
    spec = {"path": path.name, "id": "id", "input": "text", "label": "label", **roles}
    return load_dataset(spec, base_dir=path.parent)


def test_missing_column_lists_columns_and_closest_name(tmp_path: Path) -> None:
    p = csv(tmp_path, ROWS)
    with pytest.raises(DataError) as e:
        load(p, label="lable")
    msg = str(e.value)
    assert "test.csv" in msg
    assert "no column 'lable' (named by `label`)" in msg
    assert "Columns present: ['id', 'text', 'label']" in msg
    assert "Did you mean 'label'?" in msg
    assert "Fix: set `label: label`" in msg


@pytest.mark.parametrize(
    ("role", "value"),
    [
        ("groups", ["gender"]),
        ("time", "date"),
        ("domain", "source"),
        ("slices", ["genre"]),
        ("input", ["text", "Txt"]),
        ("id", "ID"),
    ],
)
def test_every_role_column_must_exist(tmp_path: Path, role: str, value: object) -> None:
    p = csv(tmp_path, ROWS)
    with pytest.raises(DataError, match=rf"named by `{role}`.*Columns present"):
        load(p, **{role: value})


def test_missing_column_suggests_a_different_case(tmp_path: Path) -> None:
    p = csv(tmp_path, "ID,Text,Label\n1,x,y\n")
    with pytest.raises(DataError, match=r"no column 'text'.*Did you mean 'Text'"):
        load_dataset({"path": str(p), "input": "text"})


def test_empty_file(tmp_path: Path) -> None:
    for name in ("empty.csv", "empty.jsonl", "empty.tsv"):
        p = csv(tmp_path, "", name)
        with pytest.raises(DataError, match=rf"{name}: is empty .*Fix"):
            load_dataset({"path": str(p)})


def test_header_without_rows(tmp_path: Path) -> None:
    p = csv(tmp_path, "id,text,label\n")
    with pytest.raises(DataError, match=r"test.csv: has columns \['id', 'text', 'label'\] but no"):
        load(p)


def test_empty_parquet(tmp_path: Path) -> None:
    p = tmp_path / "t.parquet"
    pd.DataFrame({"id": pd.Series([], dtype=str)}).to_parquet(p)
    with pytest.raises(DataError, match=r"t.parquet: has columns \['id'\] but no data rows"):
        load_dataset({"path": str(p)})


def test_malformed_json_line(tmp_path: Path) -> None:
    p = csv(tmp_path, '{"id": "a", "text": "x"}\n\n{"id": "b", "text": "y",}\n', "rows.jsonl")
    with pytest.raises(DataError) as e:
        load_dataset({"path": str(p)})
    msg = str(e.value)
    assert "rows.jsonl: line 3 is not valid JSON" in msg
    assert "Expecting property name enclosed in double quotes" in msg  # the parser's message
    assert "Fix: correct or remove that line" in msg


def test_json_line_that_is_not_an_object(tmp_path: Path) -> None:
    p = csv(tmp_path, '{"id": "a"}\n[1, 2]\n', "rows.jsonl")
    with pytest.raises(DataError, match="line 2 holds a JSON array, not an object"):
        load_dataset({"path": str(p)})


def test_label_outside_declared_labels(tmp_path: Path) -> None:
    p = csv(tmp_path, ROWS + "d,odd one,maybe\n")
    with pytest.raises(DataError) as e:
        load(p, labels=["neg", "pos"])
    msg = str(e.value)
    assert "test.csv: row 4, column 'label': label 'maybe' is not in the declared labels" in msg
    assert "Allowed: ['neg', 'pos']" in msg
    assert "add 'maybe' to `labels`" in msg and "on_invalid: skip" in msg


@pytest.mark.parametrize(
    ("text", "row", "column", "found"),
    [
        ("id,text,label\na,x,pos\n,y,neg\n", 2, "id", "no value"),
        ("id,text,label\na,x,pos\nb,  ,neg\n", 2, "text", "only whitespace"),
        ("id,text,label\na,x,pos\nb,y,neg\nc,z,\n", 3, "label", "no value"),
    ],
)
def test_missing_required_value(
    tmp_path: Path, text: str, row: int, column: str, found: str
) -> None:
    p = csv(tmp_path, text)
    with pytest.raises(DataError) as e:
        load(p)
    msg = str(e.value)
    assert f"test.csv: row {row}, column {column!r}" in msg
    assert found in msg and "Fix:" in msg and "on_invalid: skip" in msg


def test_missing_feature_value_in_jsonl(tmp_path: Path) -> None:
    p = csv(tmp_path, '{"a": 1, "b": 2, "y": 0}\n{"a": 3, "b": null, "y": 1}\n', "f.jsonl")
    with pytest.raises(DataError, match=r"f.jsonl: row 2, column 'b' \(an input column\): found"):
        load_dataset({"path": str(p), "input": ["a", "b"], "label": "y"})


def test_duplicate_ids_name_both_rows(tmp_path: Path) -> None:
    p = csv(tmp_path, ROWS + "b,again,neg\n")
    with pytest.raises(DataError) as e:
        load(p)
    msg = str(e.value)
    assert "test.csv: rows 2 and 4 have the same id 'b' (column 'id')" in msg
    assert "Fix: make the ids unique" in msg


def test_duplicate_ids_across_chunks(tmp_path: Path) -> None:
    p = csv(tmp_path, ROWS + "x,1,pos\ny,2,pos\na,3,neg\n")
    with pytest.raises(DataError, match="rows 1 and 6 have the same id 'a'"):
        load_dataset({"path": str(p), "id": "id"}, chunk_rows=2)


def test_numeric_ids_that_collide_as_strings(tmp_path: Path) -> None:
    # 1 and 1.0 are the same id once ids are strings.
    p = csv(tmp_path, '{"id": 1}\n{"id": 2}\n{"id": 1.0}\n', "ids.jsonl")
    with pytest.raises(DataError, match="rows 1 and 3 have the same id '1'"):
        load_dataset({"path": str(p), "id": "id"})


@pytest.mark.parametrize("name", ["data.xlsx", "data", "data.csv.xz"])
def test_unknown_extension(tmp_path: Path, name: str) -> None:
    p = csv(tmp_path, ROWS, name)
    with pytest.raises(DataError) as e:
        load_dataset({"path": str(p)})
    msg = str(e.value)
    assert name in msg and "Known extensions" in msg and "set `format:`" in msg


def test_missing_file_suggests_a_close_name(tmp_path: Path) -> None:
    csv(tmp_path, ROWS, "test.csv")
    with pytest.raises(DataError) as e:
        load_dataset({"path": "tset.csv"}, base_dir=tmp_path)
    msg = str(e.value)
    assert "tset.csv: no such file or folder" in msg and "resolved against" in msg
    assert "Did you mean 'test.csv'?" in msg


def test_dataset_dict_folder_lists_splits(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    datasets.disable_progress_bars()
    d = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})
    datasets.DatasetDict({"train": d, "test": d}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(DataError) as e:
        load_dataset({"path": "dd"}, base_dir=tmp_path)
    msg = str(e.value)
    assert "DatasetDict with splits ['train', 'test']" in msg
    assert "`path: dd/train`" in msg
    ds = load_dataset({"path": "dd/test", "input": "text", "label": "label"}, base_dir=tmp_path)
    assert len(ds) == 2


def test_plain_folder_is_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match=r"not a Hugging Face `save_to_disk` folder.*notes.txt"):
        load_dataset({"path": str(tmp_path / "stuff")})
    with pytest.raises(DataError, match="is a folder, but `format: csv`"):
        load_dataset({"path": str(tmp_path / "stuff"), "format": "csv"})


def test_csv_with_too_many_fields(tmp_path: Path) -> None:
    p = csv(tmp_path, "a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataError, match=r"test.csv: cannot be parsed as CSV: .*Expected 2 fields"):
        read_table(p)


def test_corrupt_compressed_file(tmp_path: Path) -> None:
    p = tmp_path / "t.csv.gz"
    p.write_bytes(gzip.compress(ROWS.encode())[:-12])
    with pytest.raises(DataError, match=r"t.csv.gz: cannot be read as gz-compressed CSV"):
        read_table(p)


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "latin.jsonl"
    p.write_bytes('{"text": "café"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.jsonl: is not UTF-8 text.*Fix: save the file as"):
        read_table(p)


def test_parquet_that_is_not_parquet(tmp_path: Path) -> None:
    p = csv(tmp_path, ROWS, "fake.parquet")
    with pytest.raises(DataError, match=r"fake\.parquet: cannot be read as PARQUET"):
        read_table(p)


def test_invalid_spec_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.val.on_invalid"):
        load_dataset({"path": "x.csv", "on_invalid": "ignore"}, name="val")
    with pytest.raises(ConfigError, match=r"data.test.colour: Extra inputs"):
        load_dataset({"path": "x.csv", "colour": "red"})


def test_declared_labels_twice(tmp_path: Path) -> None:
    p = csv(tmp_path, ROWS)
    with pytest.raises(DataError, match=r"`labels` lists '1' twice"):
        load_dataset({"path": str(p), "labels": [1, 1.0]})


@pytest.mark.parametrize("column", ["label", "id"])
def test_json_list_as_label_or_id_names_the_row(tmp_path: Path, column: str) -> None:
    # found by tests/test_fuzz_readers.py: a list label reached pandas' hashing as a TypeError
    p = csv(
        tmp_path,
        '{"id": 1, "text": "a", "label": "x"}\n{"id": 2, "text": "b", "label": "y"}\n'
        + json.dumps({"id": 3, "text": "c", "label": "x"} | {column: ["x", "y"]})
        + "\n",
        name="test.jsonl",
    )
    with pytest.raises(DataError) as e:
        load(p)
    assert "row 3" in str(e.value) and f"column {column!r}" in str(e.value)
    assert "a list" in str(e.value) and "Fix:" in str(e.value)


def test_numeric_predictions_against_class_labels_name_the_mismatch(tmp_path: Path) -> None:
    # found by tests/test_fuzz_readers.py: a ValueError from numpy's float conversion
    from typer.testing import CliRunner

    from assay._cli.main import app

    csv(tmp_path, "id,text,label\n1,x,a\n2,y,b\n3,z,a\n")
    csv(tmp_path, "id,prediction\n1,0.5\n2,0.25\n3,0.75\n", name="preds.csv")
    (tmp_path / "suite.yaml").write_text(
        "data: {path: test.csv, id: id, input: text, label: label}\n"
        "models: {candidate: 'predictions:preds.csv'}\n"
    )
    res = CliRunner().invoke(
        app, ["run", str(tmp_path / "suite.yaml"), "--out", str(tmp_path / "out"), "--no-cache"]
    )
    assert res.exit_code == 2, res.output
    assert "test.csv" in res.output and "'label'" in res.output and "'a'" in res.output
    assert "task: classification" in res.output


def test_labels_that_differ_only_in_spacing_or_case_are_refused(tmp_path: Path) -> None:
    p = csv(tmp_path, "id,text,label\na,x,New York\nb,y,new  york\nc,z,Boston\nd,w,Boston\n")
    with pytest.raises(DataError) as e:
        load(p)
    msg = str(e.value)
    assert "test.csv" in msg and "column 'label'" in msg
    assert "'New York' (1 row: 1) and 'new  york' (1 row: 2)" in msg
    # declared, they are two classes on purpose
    ds = load(p, labels=["New York", "new  york", "Boston"])
    assert ds.labels == ("New York", "new  york", "Boston")  # type: ignore[attr-defined]


def test_dataset_rows_count_as_in_the_file_after_dropped_rows(tmp_path: Path) -> None:
    p = csv(tmp_path, "id,text,label\na,good,pos\nb,,neg\nc,fine,pos\n")
    ds = load(p, on_invalid="skip")
    assert ds.where("c") == "id 'c' (row 3 of test.csv)"  # type: ignore[attr-defined]
