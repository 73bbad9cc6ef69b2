"""The fitting service (``assay.models._fitting``): fit recipes made ready, fold models fitted on
their first predict, on real data (breast cancer) and real scikit-learn estimators."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from assay._runner import suite_from_dict
from assay.config import Suite
from assay.config._fit import FitRecipe
from assay.errors import ConfigError, ModelError
from assay.models import Model, load_model
from assay.models._fitting import FittedModel, Fitter, prepare_fitter

HOOKS = """
from pathlib import Path
from sklearn.linear_model import LogisticRegression

FEATURES = {features!r}
LOG = Path(__file__).with_name("fits.log")

def fit(rows):
    with LOG.open("a") as f:
        f.write(f"{{len(rows)}}\\n")
    return LogisticRegression(max_iter=500).fit(rows[FEATURES], rows["y"].astype(str))

def broken(rows):
    with LOG.open("a") as f:
        f.write("broken\\n")
    raise RuntimeError("planted failure")

def as_function(rows):
    return lambda batch: [str(int(r[FEATURES[0]] > 15)) for r in batch]
"""


@pytest.fixture
def setup(tmp_path: Path) -> dict:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns={"target": "y"})
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    features = [c for c in frame.columns if c not in ("id", "y")][:5]
    frame.to_csv(tmp_path / "train.csv", index=False)
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    est.fit(frame[features].iloc[:300], frame["y"].iloc[:300].astype(str))
    joblib.dump(est, tmp_path / "model.joblib")
    (tmp_path / "hooks.py").write_text(HOOKS.format(features=features))
    suite = suite_from_dict(
        {
            "data": {"train": {"path": "train.csv", "id": "id", "input": features, "label": "y"}},
            "models": {"m": "sklearn:model.joblib"},
            "trust": True,
            "engine": {"cache": None, "progress": False},
        },
        base_dir=tmp_path,
    )
    return {"dir": tmp_path, "frame": frame, "features": features, "suite": suite, "est": est}


def _ready(setup: dict, fit: str, *, suite: Suite | None = None) -> tuple[Fitter, Model]:
    s = suite or setup["suite"]
    model = load_model("sklearn:model.joblib", name="m", base_dir=setup["dir"], trust=True)
    recipe = FitRecipe(fit=fit, data="train")
    return prepare_fitter(recipe, suite=s, model=model, info=model.info(), seed=0), model


def test_sklearn_recipe_clones_the_evaluated_models_estimator(setup: dict) -> None:
    fitter, model = _ready(setup, "sklearn")
    assert fitter.digest == f"sklearn-clone:{model.info().fingerprint}"
    frame, features = setup["frame"], setup["features"]
    rows, test = frame.iloc[:200], frame.iloc[400:]
    fold = fitter.fit_model(
        rows, name="m::cv fold 1", fold="fold 1", task="classification", fingerprint="fp-fold-1"
    )
    assert isinstance(fold, FittedModel) and fold.info().fingerprint == "fp-fold-1"
    got = fold.predict(test[features].to_dict("records"))
    literal = clone(setup["est"]).fit(rows[features], rows["y"].to_numpy())
    want = literal.predict_proba(test[features])
    assert [o.label for o in got] == [str(v) for v in literal.predict(test[features])]
    probs = [[o.probabilities[str(c)] for c in literal.classes_] for o in got]  # type: ignore[index]
    assert np.allclose(probs, want, rtol=0, atol=1e-12)


def test_a_python_hook_is_fitted_on_first_predict_and_once(setup: dict) -> None:
    fitter, _ = _ready(setup, "python:hooks.py:fit")
    log = setup["dir"] / "fits.log"
    rows = setup["frame"].iloc[:150]
    fold = fitter.fit_model(rows, name="f", fold="fold 1", task="classification", fingerprint="x")
    assert not log.exists()  # nothing fitted until asked: a cached run fits nothing
    batch = setup["frame"][setup["features"]].iloc[400:410].to_dict("records")
    fold.predict(batch)
    fold.predict(batch)
    assert log.read_text().split() == ["150"]
    # the digest hashes the hook's source: an edit is a new recipe
    before = fitter.digest
    (setup["dir"] / "hooks.py").write_text((setup["dir"] / "hooks.py").read_text() + "\n# edit\n")
    assert _ready(setup, "hooks.py:fit")[0].digest != before


def test_a_hook_returning_a_function(setup: dict) -> None:
    fitter, _ = _ready(setup, "python:hooks.py:as_function")
    fold = fitter.fit_model(
        setup["frame"].iloc[:50], name="f", fold="fold 1", task="classification", fingerprint="x"
    )
    first = setup["features"][0]
    batch = setup["frame"][setup["features"]].iloc[:20].to_dict("records")
    assert [o.label for o in fold.predict(batch)] == [str(int(r[first] > 15)) for r in batch]


def test_a_failed_fit_is_recorded_with_its_traceback_and_not_retried(setup: dict) -> None:
    fitter, _ = _ready(setup, "python:hooks.py:broken")
    fold = fitter.fit_model(
        setup["frame"].iloc[:50], name="f", fold="fold 3", task="classification", fingerprint="x"
    )
    with pytest.raises(RuntimeError, match="planted failure"):
        fold.predict([{"a": 1}])
    assert fold.fit_error is not None and "Traceback" in fold.fit_error
    with pytest.raises(ModelError, match="fit failed in fold 3"):
        fold.predict([{"a": 1}])
    assert (setup["dir"] / "fits.log").read_text().split() == ["broken"]


def test_recipes_that_cannot_be_used_name_the_suite_path(setup: dict) -> None:
    python_model = setup["dir"] / "user.py"
    python_model.write_text("def predict(batch):\n    return ['0' for _ in batch]\n")
    user = load_model("python:user.py:predict", name="u", base_dir=setup["dir"])
    recipe = FitRecipe(fit="sklearn", data="train")
    with pytest.raises(ConfigError, match=r"checks.cv.fit: .* 'u' is not an sklearn: model"):
        prepare_fitter(recipe, suite=setup["suite"], model=user, info=user.info(), seed=0)
    untrusted = setup["suite"].model_copy(update={"trust": False})
    with pytest.raises(ConfigError, match="runs code from the file"):
        _ready(setup, "sklearn:model.joblib", suite=untrusted)
    with pytest.raises(ConfigError, match="names no function"):
        _ready(setup, "python:hooks.py")
    with pytest.raises(ConfigError, match="one text column"):
        _ready(setup, "transformers")


def test_a_transformers_recipe_needs_a_checkpoint_folder(tmp_path: Path) -> None:
    pd.DataFrame({"id": range(4), "text": list("abcd"), "y": [0, 1] * 2}).to_csv(
        tmp_path / "t.csv", index=False
    )
    (tmp_path / "m.py").write_text("def predict(b):\n    return [0 for _ in b]\n")
    suite = suite_from_dict(
        {
            "data": {"t": {"path": "t.csv", "id": "id", "input": "text", "label": "y"}},
            "models": {"m": "python:m.py:predict"},
        },
        base_dir=tmp_path,
    )
    m = load_model("python:m.py:predict", name="m", base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"checks.cv.transformers.base: no checkpoint folder"):
        prepare_fitter(
            FitRecipe(fit="transformers", data="t"),
            suite=suite,
            model=m,
            info=m.info(),
            seed=0,
            default_base=lambda: str(tmp_path / "missing"),
        )
