"""The notebook API: ``assay.evaluate(model=<estimator>, data=<DataFrame>, label=...)`` with no
suite file, ``compare_models``, ``report.result`` / ``to_frame`` / ``_repr_html_``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import assay
from assay.errors import ConfigError, DataError, ReportError


@pytest.fixture(scope="module")
def cancer() -> dict[str, object]:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns={"target": "diagnosis"})
    frame["diagnosis"] = frame["diagnosis"].map({0: "malignant", 1: "benign"})
    features = [c for c in frame.columns if c != "diagnosis"]
    train, test = train_test_split(frame, test_size=0.4, random_state=0,
                                   stratify=frame["diagnosis"])
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.05))
    pipe.fit(train[features], train["diagnosis"])
    return {"pipe": pipe, "test": test, "features": features}


def test_evaluate_a_fitted_pipeline_on_a_dataframe(cancer: dict, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pipe, test = cancer["pipe"], cancer["test"]
    report = assay.evaluate(
        model=pipe, data=test, label="diagnosis", checks=["performance"],
        gates=["performance.accuracy.lower >= 0.8"], progress=False,
    )
    assert isinstance(report, assay.Report) and report.passed
    perf = report.result("performance")
    expected = accuracy_score(test["diagnosis"], pipe.predict(test[cancer["features"]]))
    assert perf.metrics["accuracy"].value == pytest.approx(expected)
    assert perf.n == len(test)
    # ids come from the frame's (shuffled) index, so rows can be found again
    ids = [str(i) for i in test.index]
    kept = perf.tables["per_example"]["id"]
    assert set(kept) <= set(ids) and kept[0] in ids
    assert report.datasets[0]["path"] == "<DataFrame>"
    assert report.models[0]["spec"] == "object:Pipeline"
    # nothing is written without a suite or an out folder
    assert not list(tmp_path.iterdir())


def test_ids_come_from_an_id_column_and_files_work_too(cancer: dict, tmp_path: Path) -> None:
    test = cancer["test"].reset_index(drop=True)
    test.insert(0, "id", [f"p{i}" for i in range(len(test))])
    path = tmp_path / "test.csv"
    test.to_csv(path, index=False)
    a = assay.evaluate(model=cancer["pipe"], data=test, label="diagnosis", progress=False)
    b = assay.evaluate(model=cancer["pipe"], data=str(path), label="diagnosis", progress=False,
                       out=tmp_path / "out")
    assert a.result("performance").tables["per_example"]["id"][:2] == ["p0", "p1"]
    assert a.result("performance").metrics == b.result("performance").metrics
    assert (tmp_path / "out" / "report.html").exists()  # out= given: the files are written


def test_a_function_is_a_model(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": ["good film", "bad film", "good plot", "bad plot"],
                          "label": ["pos", "neg", "pos", "neg"]})
    report = assay.evaluate(
        model=lambda texts: ["pos" if "good" in t else "neg" for t in texts],
        data=frame, label="label", input="text", task="classification", progress=False,
    )
    assert report.result("performance").metrics["accuracy"].value == 1.0


def test_compare_models_pairs_two_estimators(cancer: dict) -> None:
    test, features = cancer["test"], cancer["features"]
    dummy = DummyClassifier(strategy="most_frequent").fit(test[features], test["diagnosis"])
    report = assay.compare_models(cancer["pipe"], dummy, data=test, label="diagnosis",
                                  progress=False)
    comparison = report.result("compare").tables["comparison"]
    assert comparison["verdict"] == "go"
    assert report.result("compare").metrics["accuracy.diff"].lower > 0


def test_result_names_the_closest_check(cancer: dict) -> None:
    report = assay.evaluate(model=cancer["pipe"], data=cancer["test"], label="diagnosis",
                            progress=False)
    with pytest.raises(ReportError, match="did you mean 'performance'"):
        report.result("performence")
    with pytest.raises(ReportError, match="models with one: candidate"):
        report.result("performance", "candidat")
    assert report.find("performence") is None


def test_to_frame_is_tidy(cancer: dict) -> None:
    report = assay.evaluate(model=cancer["pipe"], data=cancer["test"], label="diagnosis",
                            progress=False)
    frame = report.to_frame()
    assert list(frame.columns) == ["check", "model", "dataset", "path", "metric", "slice",
                                   "value", "lower", "upper", "level", "n", "method"]
    perf = report.result("performance")
    assert len(frame) == len(perf.metrics)
    row = frame[frame["path"] == "accuracy"].iloc[0]
    assert (row["metric"], row["slice"], row["model"]) == ("accuracy", "", "candidate")
    assert row["lower"] == perf.metrics["accuracy"].lower
    per_class = frame[frame["path"] == "per_class.benign.recall"].iloc[0]
    assert (per_class["metric"], per_class["slice"]) == ("recall", "per_class.benign")
    assert frame.equals(report.to_frame("performance"))
    assert report.result("performance").to_frame().equals(frame)
    with pytest.raises(ReportError, match="did you mean"):
        report.to_frame("performanc")


def test_repr_html_shows_verdict_findings_and_metrics(cancer: dict) -> None:
    report = assay.evaluate(model=cancer["pipe"], data=cancer["test"], label="diagnosis",
                            gates=["performance.accuracy.lower >= 0.999"], progress=False)
    html = report._repr_html_()
    assert "FAIL" in html and "gate failed: performance.accuracy.lower &gt;= 0.999" in html
    assert "accuracy" in html and "<script" not in html


def test_arguments_are_checked(cancer: dict, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model= and data="):
        assay.evaluate(model=cancer["pipe"])
    with pytest.raises(DataError, match="diagnosys"):
        assay.evaluate(model=cancer["pipe"], data=cancer["test"], label="diagnosys")
    suite = tmp_path / "suite.yaml"
    suite.write_text("data: {path: t.csv, input: text, label: y}\nmodels: {m: 'python:mod:f'}\n")
    with pytest.raises(ConfigError, match="label, gates describe a suite"):
        assay.evaluate(suite, label="y", gates=["x.y >= 1"])
    with pytest.raises(Exception, match="not a model"):
        assay.evaluate(model=np.zeros(3), data=cancer["test"], label="diagnosis")
