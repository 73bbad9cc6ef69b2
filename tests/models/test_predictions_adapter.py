"""predictions: a file of predictions by id (CSV, JSONL, Parquet)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from assay._types import AnswersById, CoversIds
from assay.config import EngineSettings
from assay.engine import Engine, Request, content_key
from assay.errors import ModelError
from assay.models import Output, load_model


def csv(tmp_path: Path, text: str, name: str = "preds.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_probability_columns(tmp_path: Path) -> None:
    path = csv(
        tmp_path,
        "id,prediction,prob_neg,prob_pos\n007,pos,0.2,0.8\n8,neg,0.9,0.1\n9,pos,0.4,0.6\n",
    )
    model = load_model("predictions:preds.csv", base_dir=tmp_path)
    assert isinstance(model, AnswersById) and isinstance(model, CoversIds)
    info = model.info()
    assert info.task == "classification" and info.labels == ("neg", "pos")
    assert info.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()
    assert model.predict([{"id": "007"}, {"id": "8"}, {"id": "9"}]) == [
        Output(label="pos", probabilities={"neg": 0.2, "pos": 0.8}),
        Output(label="neg", probabilities={"neg": 0.9, "pos": 0.1}),
        Output(label="pos", probabilities={"neg": 0.4, "pos": 0.6}),
    ]


def test_without_a_prediction_column_each_row_is_its_most_probable_class(tmp_path: Path) -> None:
    csv(tmp_path, "id,prob_neg,prob_pos\n1,0.2,0.8\n2,0.9,0.1\n")
    model = load_model("predictions:preds.csv", base_dir=tmp_path)
    assert [o.label for o in model.predict([{"id": "1"}, {"id": "2"}])] == ["pos", "neg"]


def test_jsonl_with_a_probabilities_object(tmp_path: Path) -> None:
    rows = [
        {"id": 1, "label": 1, "probabilities": {"0": 0.3, "1": 0.7}},
        {"id": 2, "label": 0.0, "probabilities": {"0": 0.6, "1": 0.4}},
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = load_model(f"predictions:{path}")
    assert model.predict([{"id": "2"}, {"id": "1"}]) == [
        Output(label="0", probabilities={"0": 0.6, "1": 0.4}),
        Output(label="1", probabilities={"0": 0.3, "1": 0.7}),
    ]


def test_parquet_regression(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pd.DataFrame({"id": ["a", "b"], "prediction": [0.25, 3.5]}).to_parquet(path)
    model = load_model(f"predictions:{path}")
    assert model.info().task == "regression" and model.info().labels is None
    assert model.predict([{"id": "b"}]) == [Output(value=3.5)]


@pytest.mark.parametrize(
    ("header", "values", "task"),
    [
        ("prediction", ["1.0", "0.0"], "classification"),  # whole floats are class labels
        ("prediction", ["yes", "no"], "classification"),
        ("value", ["1", "2"], "regression"),
        ("text", ["hello", "bye"], "generation"),
    ],
)
def test_task_inference(tmp_path: Path, header: str, values: list[str], task: str) -> None:
    csv(tmp_path, f"id,{header}\n1,{values[0]}\n2,{values[1]}\n")
    model = load_model("predictions:preds.csv", base_dir=tmp_path)
    assert model.info().task == task


def test_coverage_reports_missing_and_extra_ids(tmp_path: Path) -> None:
    csv(tmp_path, "id,prediction\n1,a\n2,b\n5,c\n6,d\n")
    model = load_model("predictions:preds.csv", base_dir=tmp_path)
    assert isinstance(model, CoversIds)
    missing, extra = model.coverage(["1", "2", "3", "4"])
    assert missing == ["3", "4"] and extra == ["5", "6"]


def test_a_missing_id_fails_only_its_request(tmp_path: Path) -> None:
    csv(tmp_path, "id,prediction\n1,a\n2,b\n4,d\n")
    model = load_model("predictions:preds.csv", base_dir=tmp_path)
    fp = model.info().fingerprint
    reqs = [Request(content_key(fp, {"id": i}), "candidate", {"id": i}) for i in "1234"]
    eng = Engine(EngineSettings(batch_size=4, backoff_s=0), cache_path=None, progress=False)
    answers = eng.run(reqs, {"candidate": model})
    got = [answers[r.key] for r in reqs]
    assert [r.output.label if r.output else None for r in got] == ["a", "b", None, "d"]
    assert got[2].error == "ModelError: preds.csv has no prediction for id '3'"
    assert eng.stats.n_errors == 1


@pytest.mark.parametrize(
    "text",
    [
        "id,prediction\n1,a\n2,\n",
        # with probabilities, an empty cell once became the most probable class, silently
        "id,prediction,prob_a,prob_b\n1,a,0.9,0.1\n2,,0.3,0.7\n",
    ],
)
def test_an_empty_prediction_cell_is_refused_naming_file_row_and_column(
    tmp_path: Path, text: str
) -> None:
    csv(tmp_path, text)
    with pytest.raises(ModelError) as err:
        load_model("predictions:preds.csv", base_dir=tmp_path)
    msg = str(err.value)
    assert "preds.csv" in msg and "row 2 (id '2')" in msg and "'prediction'" in msg
    assert "Fix: fill in the prediction" in msg


def test_an_empty_generated_text_is_an_error_for_that_id(tmp_path: Path) -> None:
    csv(tmp_path, "id,text\n1,hello\n2,\n")
    model = load_model("predictions:preds.csv", base_dir=tmp_path)
    assert model.predict([{"id": "1"}]) == [Output(text="hello")]
    with pytest.raises(ModelError, match=r"preds.csv row 2 \(id '2'\) has no prediction"):
        model.predict([{"id": "2"}])


@pytest.mark.parametrize(
    ("cells", "words"),
    [
        ("0.3,", "column 'prob_b' is empty (or NaN)"),
        ("0.3,NaN", "column 'prob_b' is empty (or NaN)"),
        ("1.2,-0.2", "column 'prob_a': probability 1.2 is outside [0, 1]"),
        ("0.3,high", "column 'prob_b': 'high' is not a number"),
    ],
)
def test_a_bad_probability_cell_names_file_row_and_column(
    tmp_path: Path, cells: str, words: str
) -> None:
    csv(tmp_path, f"id,prediction,prob_a,prob_b\n1,a,0.9,0.1\n2,b,{cells}\n")
    with pytest.raises(ModelError) as err:
        load_model("predictions:preds.csv", base_dir=tmp_path)
    assert "preds.csv row 2 (id '2')" in str(err.value) and words in str(err.value)


def test_a_row_with_every_probability_cell_empty_has_no_probabilities(tmp_path: Path) -> None:
    csv(tmp_path, "id,prediction,prob_a,prob_b\n1,a,0.9,0.1\n2,b,,\n")
    model = load_model("predictions:preds.csv", base_dir=tmp_path)
    assert model.predict([{"id": "2"}]) == [Output(label="b")]
    assert model.locate("2") == "row 2 of preds.csv" and model.locate("3") is None


def test_missing_ids_option_is_checked(tmp_path: Path) -> None:
    csv(tmp_path, "id,prediction\n1,a\n")
    with pytest.raises(ModelError, match="missing_ids: 'maybe' is not one of error, skip"):
        load_model("predictions:preds.csv", base_dir=tmp_path, options={"missing_ids": "maybe"})


def test_missing_id_column_lists_the_columns(tmp_path: Path) -> None:
    csv(tmp_path, "ident,prediction\n1,a\n")
    with pytest.raises(ModelError, match="has no 'id' column; its columns: ident, prediction"):
        load_model("predictions:preds.csv", base_dir=tmp_path)
    model = load_model("predictions:preds.csv", base_dir=tmp_path, options={"id": "ident"})
    assert model.predict([{"id": 1}]) == [Output(label="a")]


def test_duplicate_ids_are_named(tmp_path: Path) -> None:
    csv(tmp_path, "id,prediction\n1,a\n2,b\n1,c\n3,d\n2,e\n")
    with pytest.raises(ModelError) as err:
        load_model("predictions:preds.csv", base_dir=tmp_path)
    msg = str(err.value)
    assert "2 id(s) appear more than once" in msg
    assert "'1' (rows 1, 3)" in msg and "'2' (rows 2, 5)" in msg


def test_no_prediction_column(tmp_path: Path) -> None:
    csv(tmp_path, "id,score\n1,0.5\n")
    with pytest.raises(ModelError, match="no prediction column; name it one of prediction, label"):
        load_model("predictions:preds.csv", base_dir=tmp_path)
    model = load_model("predictions:preds.csv", base_dir=tmp_path, options={"column": "score"})
    assert model.predict([{"id": "1"}]) == [Output(value=0.5)]


def test_other_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model("predictions:absent.csv", base_dir=tmp_path)
    csv(tmp_path, "id,prediction\n", name="p.xlsx")
    with pytest.raises(ModelError, match=r"cannot tell the format of p\.xlsx"):
        load_model("predictions:p.xlsx", base_dir=tmp_path)
    csv(tmp_path, "id,prediction\n,a\n")
    with pytest.raises(ModelError, match="row\\(s\\) 1 have an empty 'id'"):
        load_model("predictions:preds.csv", base_dir=tmp_path)
    csv(tmp_path, "id,prediction\n1,a\n")
    model = load_model("predictions:preds.csv", base_dir=tmp_path)
    with pytest.raises(ModelError, match=r"expects \{'id': \.\.\.\} inputs; got str"):
        model.predict(["some text"])
