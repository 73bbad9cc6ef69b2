"""``on_invalid: skip``: invalid rows are dropped, counted by reason, and never silently."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.data import load_dataset
from assay.errors import DataError

MESSY = (
    "id,text,label,genre\n"
    "a,good film,pos,drama\n"  # 1 ok
    "b,,neg,drama\n"  # 2 missing input
    "c,fine,,comedy\n"  # 3 missing label
    ",nameless,pos,comedy\n"  # 4 missing id
    "a,again,neg,drama\n"  # 5 duplicate of row 1
    "d,odd,maybe,drama\n"  # 6 label not in labels
    "e,ok,neg,comedy\n"  # 7 ok
    "f,  ,,drama\n"  # 8 missing input (checked before label)
    "e,twice,pos,drama\n"  # 9 duplicate of row 7
    "g,last,pos,comedy\n"  # 10 ok
)
SPEC = {"id": "id", "input": "text", "label": "label", "labels": ["neg", "pos"],
        "on_invalid": "skip", "slices": ["genre"]}


def test_skip_counts_each_reason(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text(MESSY)
    ds = load_dataset({"path": "m.csv", **SPEC}, base_dir=tmp_path)
    assert ds.ids == ["a", "e", "g"]
    assert ds.n_read == 10
    assert ds.dropped == {
        "missing input": 2,
        "missing label": 1,
        "missing id": 1,
        "duplicate id": 2,
        "label not in labels": 1,
    }
    assert sum(ds.dropped.values()) + len(ds) == ds.n_read  # nothing dropped silently
    rows = [(e["row"], e["reason"]) for e in ds.dropped_examples]
    assert rows == [(2, "missing input"), (3, "missing label"), (4, "missing id"),
                    (5, "duplicate id"), (6, "label not in labels"), (8, "missing input"),
                    (9, "duplicate id")]
    dup = ds.dropped_examples[3]
    assert dup["id"] == "a" and "rows 1 and 5" in dup["detail"]
    assert ds.info()["dropped"] == ds.dropped and ds.labels == ("neg", "pos")


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 4, 7])
def test_chunked_skip_equals_whole(tmp_path: Path, chunk_rows: int) -> None:
    (tmp_path / "m.csv").write_text(MESSY)
    whole = load_dataset({"path": "m.csv", **SPEC}, base_dir=tmp_path)
    chunked = load_dataset({"path": "m.csv", **SPEC}, base_dir=tmp_path, chunk_rows=chunk_rows)
    pd.testing.assert_frame_equal(chunked.frame, whole.frame)
    assert chunked.dropped == whole.dropped
    assert chunked.dropped_examples == whole.dropped_examples


def test_examples_are_capped(tmp_path: Path) -> None:
    lines = ["id,text"] + [f"{i}," for i in range(50)] + ["ok,text"]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    ds = load_dataset({"path": str(tmp_path / "t.csv"), "id": "id", "input": "text",
                       "on_invalid": "skip"})
    assert ds.dropped == {"missing input": 50} and ds.ids == ["ok"]
    assert len(ds.dropped_examples) == 3


def test_every_row_dropped_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("id,text,label\na,,pos\nb,x,\n")
    with pytest.raises(DataError) as e:
        load_dataset({"path": str(tmp_path / "t.csv"), "id": "id", "input": "text",
                      "label": "label", "on_invalid": "skip"})
    msg = str(e.value)
    assert "every one of the 2 rows read is invalid" in msg
    assert "missing input: 1" in msg and "missing label: 1" in msg and "row 1" in msg


def test_structural_errors_are_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("id,text\na,x\n")
    with pytest.raises(DataError, match="no column 'label'"):
        load_dataset({"path": str(tmp_path / "t.csv"), "label": "label", "on_invalid": "skip"})


def _reference(rows: list[tuple[str | None, str | None]]) -> tuple[list[str], Counter[str]]:
    """The rule, written out literally: first reason wins, the first holder of an id keeps it."""
    kept: list[str] = []
    dropped: Counter[str] = Counter()
    for id_, label in rows:
        if id_ is None:
            dropped["missing id"] += 1
        elif label is None:
            dropped["missing label"] += 1
        elif label not in ("x", "y"):
            dropped["label not in labels"] += 1
        elif id_ in kept:
            dropped["duplicate id"] += 1
        else:
            kept.append(id_)
    return kept, dropped


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.one_of(st.none(), st.sampled_from("abcdef")),
                  st.one_of(st.none(), st.sampled_from(["x", "y", "z"]))),
        min_size=1, max_size=25,
    ),
    chunk_rows=st.integers(1, 6),
    fmt=st.sampled_from(["csv", "jsonl", "parquet"]),
)
def test_skip_matches_the_literal_rule(
    rows: list[tuple[str | None, str | None]], chunk_rows: int, fmt: str
) -> None:
    kept, dropped = _reference(rows)
    frame = pd.DataFrame(rows, columns=["id", "label"], dtype=object)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"t.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        elif fmt == "jsonl":
            frame.to_json(path, orient="records", lines=True)
        else:
            frame.astype("string").to_parquet(path)
        spec = {"path": str(path), "id": "id", "label": "label", "labels": ["x", "y"],
                "on_invalid": "skip"}
        if not kept:
            with pytest.raises(DataError, match="every one of the"):
                load_dataset(spec, chunk_rows=chunk_rows)
            return
        ds = load_dataset(spec, chunk_rows=chunk_rows)
    assert ds.ids == kept
    assert ds.dropped == dict(dropped)
    assert ds.n_read == len(rows)
