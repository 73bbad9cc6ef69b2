"""sklearn: real scikit-learn pipelines saved with joblib, loaded back through assay."""

from __future__ import annotations

import hashlib
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from assay.config import EngineSettings
from assay.engine import Engine, Request, content_key
from assay.errors import ConfigError, ModelError, TrustRequiredError
from assay.models import load_model

POSITIVE = [
    "a wonderful film, warm and funny",
    "loved every minute of it",
    "brilliant acting and a great story",
    "an uplifting, joyful experience",
    "superb direction, great cast",
    "funny, clever and moving",
    "a great night out, highly recommended",
    "beautiful images and a lovely score",
    "the best film this year",
    "charming and delightful",
    "great fun for the whole family",
    "a moving and wonderful story",
    "excellent, smart and warm",
    "I laughed and cried, loved it",
    "a joy from start to finish",
]
NEGATIVE = [
    "a boring, tedious mess",
    "hated it, a waste of time",
    "terrible acting and a dull story",
    "awful script, poor direction",
    "the worst film this year",
    "dull, slow and predictable",
    "I walked out, truly bad",
    "a tedious and boring plot",
    "poor effects and awful dialogue",
    "lifeless and dreary",
    "a bad film with a terrible ending",
    "painfully dull and too long",
    "a waste of a good cast, awful",
    "clumsy, boring and forgettable",
    "bad from start to finish",
]


@pytest.fixture
def text_model_file(tmp_path: Path) -> tuple[Path, object]:
    texts = POSITIVE + NEGATIVE
    y = np.array([1] * len(POSITIVE) + [0] * len(NEGATIVE))
    pipe = make_pipeline(TfidfVectorizer(), LogisticRegression(C=10.0)).fit(texts, y)
    path = tmp_path / "sentiment.joblib"
    joblib.dump(pipe, path)
    return path, pipe


@pytest.fixture
def tabular_model_file(tmp_path: Path) -> tuple[Path, object, pd.DataFrame]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    path = tmp_path / "cancer.pkl"
    joblib.dump(pipe, path)
    return path, pipe, X


def test_loading_a_joblib_file_needs_trust(text_model_file: tuple[Path, object]) -> None:
    path, _ = text_model_file
    with pytest.raises(TrustRequiredError) as err:
        load_model(f"sklearn:{path.name}", base_dir=path.parent)
    msg = str(err.value)
    assert "models.candidate" in msg and "execute" in msg
    assert "--trust" in msg and "trust: true" in msg


def test_text_pipeline_answers_like_the_estimator(text_model_file: tuple[Path, object]) -> None:
    path, pipe = text_model_file
    model = load_model(f"sklearn:{path.name}", trust=True, base_dir=path.parent)
    info = model.info()
    assert info.task == "classification"
    assert info.labels == ("0", "1")
    assert info.spec == "sklearn:sentiment.joblib"
    assert info.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.details["class"] == "Pipeline"

    texts = ["a great and wonderful film", "boring and awful", "the story"]
    outputs = model.predict(texts)
    expected_labels = pipe.predict(texts)  # type: ignore[attr-defined]
    expected_proba = pipe.predict_proba(texts)  # type: ignore[attr-defined]
    assert [o.label for o in outputs] == [str(v) for v in expected_labels]
    assert [o.label for o in outputs[:2]] == ["1", "0"]
    for o, row in zip(outputs, expected_proba, strict=True):
        assert o.probabilities is not None
        assert o.probabilities == pytest.approx({"0": row[0], "1": row[1]}, abs=1e-12)
        assert all(type(p) is float for p in o.probabilities.values())


def test_tabular_pipeline_gets_a_frame_in_feature_order(
    tabular_model_file: tuple[Path, object, pd.DataFrame],
) -> None:
    path, pipe, X = tabular_model_file
    model = load_model(f"sklearn:{path}", trust=True)
    rows = X.iloc[:20]
    # payloads with their keys in reverse order: the adapter must put them back in place
    payloads = [dict(reversed(list(r.items()))) for r in rows.to_dict(orient="records")]
    outputs = model.predict(payloads)
    assert [o.label for o in outputs] == [str(v) for v in pipe.predict(rows)]  # type: ignore[attr-defined]
    proba = pipe.predict_proba(rows)  # type: ignore[attr-defined]
    assert [o.probabilities["1"] for o in outputs] == pytest.approx(proba[:, 1].tolist())  # type: ignore[index]
    assert model.info().details["features"] == list(X.columns)

    with pytest.raises(ModelError, match="lacks feature"):
        model.predict([{"mean radius": 1.0}])


def test_estimator_fitted_on_an_array_gets_an_array(tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True)
    reg = LinearRegression().fit(X, y)
    path = tmp_path / "reg.pickle"
    joblib.dump(reg, path)
    model = load_model(f"sklearn:{path}", trust=True)
    assert model.info().task == "regression" and model.info().labels is None
    names = [f"f{i}" for i in range(X.shape[1])]
    payloads = [dict(zip(names, map(float, row), strict=True)) for row in X[:5]]
    outputs = model.predict(payloads)  # no feature-name warning (warnings are errors here)
    assert [o.value for o in outputs] == pytest.approx(reg.predict(X[:5]).tolist())


def test_through_the_engine(text_model_file: tuple[Path, object], tmp_path: Path) -> None:
    path, _ = text_model_file
    model = load_model(f"sklearn:{path}", trust=True)
    fp = model.info().fingerprint
    reqs = [Request(content_key(fp, t), "candidate", t) for t in POSITIVE[:5] + NEGATIVE[:5]]
    eng = Engine(EngineSettings(batch_size=3), cache_path=tmp_path / "c.db", progress=False)
    answers = eng.run(reqs, {"candidate": model})
    assert [answers[r.key].output.label for r in reqs] == ["1"] * 5 + ["0"] * 5  # type: ignore[union-attr]
    assert eng.stats.n_called == 10 and eng.stats.n_errors == 0


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model("sklearn:nope.joblib", trust=True, base_dir=tmp_path)
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match="not a joblib or pickle file"):
        load_model("sklearn:m.onnx", trust=True, base_dir=tmp_path)
    joblib.dump({"not": "a model"}, tmp_path / "d.joblib")
    with pytest.raises(ModelError, match="holds a dict, which has no predict"):
        load_model("sklearn:d.joblib", trust=True, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown option"):
        load_model("sklearn:d.joblib", trust=True, base_dir=tmp_path, options={"colour": 1})


def test_task_option_changes_the_fingerprint(text_model_file: tuple[Path, object]) -> None:
    path, _ = text_model_file
    plain = load_model(f"sklearn:{path}", trust=True).info().fingerprint
    declared = load_model(f"sklearn:{path}", trust=True, options={"task": "classification"})
    assert declared.info().fingerprint != plain
    assert declared.predict(["great"])[0].label == "1"
