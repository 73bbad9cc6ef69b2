"""``infer_roles`` on synthetic tables: each guess and its reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assay.config import ColumnRoles
from assay.data import InferredRoles, infer_roles
from assay.errors import DataError


def reviews(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    words = ["good", "bad", "plot", "acting", "slow", "great", "the", "film", "was", "very"]
    return pd.DataFrame(
        {
            "review_id": [f"r{i}" for i in range(n)],
            "title": [f"movie {i % 7}" for i in range(n)],
            "review": [" ".join(rng.choice(words, 12)) for _ in range(n)],
            "sentiment": rng.choice(["pos", "neg"], n),
            "gender": rng.choice(["f", "m", "x"], n),
            "genre": rng.choice(["drama", "comedy"], n),
            "created_at": pd.date_range("2024-01-01", periods=n, freq="D").astype(str),
            "source": rng.choice(["web", "app"], n),
        }
    )


def test_text_table() -> None:
    result = infer_roles(reviews())
    assert isinstance(result, InferredRoles) and isinstance(result.roles, ColumnRoles)
    r = result.roles
    assert r.id == "review_id"
    assert r.input == "review"
    assert r.label == "sentiment"
    assert r.groups == ["gender"]
    assert r.time == "created_at"
    assert r.domain == "source"
    assert "genre" in r.slices and "review" not in r.slices
    text = " | ".join(result.reasons)
    assert "'review_id' is named like an id" in text and "'review' holds text" in text
    assert "2 classes (neg, pos)" in text
    roles, reasons = result  # unpacks as a pair
    assert roles == r and reasons == result.reasons


def test_tabular_features_and_given_label() -> None:
    rng = np.random.default_rng(1)
    n = 60
    frame = pd.DataFrame({"age": rng.integers(18, 80, n), "income": rng.normal(5e4, 1e4, n),
                          "smoker": rng.choice([True, False], n), "risk": rng.normal(0, 1, n)})
    r = infer_roles(frame, label="risk")
    assert r.roles.id is None and r.roles.label == "risk"
    assert r.roles.input == ["age", "income", "smoker"]
    assert r.roles.slices == ["smoker"]
    assert any("not a small set of classes" in s for s in r.reasons)
    assert any("ids will be row numbers" in s for s in r.reasons)


def test_no_label_found_says_so() -> None:
    r = infer_roles(pd.DataFrame({"x1": [1.0, 2.0, 3.0], "x2": [0.1, 0.2, 0.3]}))
    assert r.roles.label is None and r.roles.input == ["x1", "x2"]
    assert any("no column named like a label" in s for s in r.reasons)


def test_a_label_not_named_like_one_is_the_last_column_of_few_classes() -> None:
    frame = pd.DataFrame({"x1": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "grade": [1, 1, 2, 2, 2, 1],
                          "outcome_code": ["a", "b", "a", "b", "b", "a"]})
    r = infer_roles(frame)
    assert r.roles.label == "outcome_code" and r.roles.input == ["x1", "grade"]
    assert any("'outcome_code', the last column, holds a small set of classes" in s
               for s in r.reasons)
    # the model's classes_ and feature_names_in_ point elsewhere: they win over the last column
    r = infer_roles(frame, model_classes=["1", "2"], model_features=["x1", "outcome_code"])
    assert r.roles.label == "grade" and r.roles.input == ["x1", "outcome_code"]
    assert any("among the model's classes_ (1, 2)" in s for s in r.reasons)


def test_image_paths_are_the_input() -> None:
    frame = pd.DataFrame({"scan": [f"img/{i}.PNG" for i in range(6)], "digit": [0, 1] * 3})
    r = infer_roles(frame)
    assert r.roles.input == {"image": "scan"} and r.roles.label == "digit"


def test_id_must_be_unique() -> None:
    frame = pd.DataFrame({"id": ["a", "a", "b"], "text": ["x y z w v"] * 3, "label": [0, 1, 0]})
    r = infer_roles(frame)
    assert r.roles.id is None and r.roles.label == "label" and r.roles.input == "text"


def test_prose_column_named_like_a_label_is_input() -> None:
    frame = pd.DataFrame({"category": ["a long sentence about things here"] * 4,
                          "target": [0, 1, 1, 0]})
    r = infer_roles(frame)
    assert r.roles.label == "target" and r.roles.input == "category"


def test_unknown_label_names_the_closest(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    reviews().to_csv(p, index=False)
    with pytest.raises(DataError, match=r"t.csv: no column 'sentimnet'.*Did you mean 'sentiment'"):
        infer_roles(p, label="sentimnet")
    from_file = infer_roles(p)
    assert from_file.roles == infer_roles(reviews()).roles
