"""Build the drift example: ACS employment in Massachusetts, 2015 → 2016–2018.

The data ship with the ``nannyml`` package (US Census American Community Survey, via folktables):
``employment_MA_reference.pq`` (2015, with the label ``employed``),
``employment_MA_analysis.pq`` (2016–2018) and ``employment_MA_analysis_target.pq`` (their labels,
joined by ``id``). This script reads those files where the package is installed, without
importing it, and never copies them into the repo. It trains its own model rather than using
NannyML's predictions. Everything it makes goes to ``examples/drift/work/`` (ignored by git):

- ``model.joblib``: gradient-boosted trees trained on half of the 2015 rows;
- ``reference.parquet``: the other half of 2015 — features, ``employed``, the model's
  ``prediction`` and ``predicted_probability`` — what the model was evaluated on;
- ``current.parquet``: 2016–2018 with predictions and a ``survey_date`` (1 January of the survey
  year; ACS gives no finer time), **without** labels, as a deployed model sees them;
- ``labels.parquet``: ``id`` and ``employed`` for the current rows, the labels that arrive later.

Run: ``python examples/drift/prepare.py`` (then ``python examples/drift/monitor.py``).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
NUMERIC = ["AGEP"]
CATEGORICAL = [
    "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY", "DEAR", "DEYE",
    "DREM", "SEX", "RAC1P",
]  # fmt: skip
FEATURES = NUMERIC + CATEGORICAL


def data_folder() -> Path:
    spec = importlib.util.find_spec("nannyml")
    if spec is None or spec.origin is None:
        sys.exit("the ACS employment data ship with nannyml: pip install nannyml (or --no-deps)")
    return Path(spec.origin).parent / "datasets" / "data"


def main() -> None:
    t0 = time.perf_counter()
    folder = data_folder()
    ref = pd.read_parquet(folder / "employment_MA_reference.pq")
    cur = pd.read_parquet(folder / "employment_MA_analysis.pq")
    labels = pd.read_parquet(folder / "employment_MA_analysis_target.pq")
    # NannyML's own model outputs are dropped: this example trains its own.
    ref = ref.drop(columns=["prediction", "predicted_probability"])
    cur = cur.drop(columns=["prediction", "predicted_probability"])
    for frame in (ref, cur):
        for c in CATEGORICAL:
            frame[c] = frame[c].astype(int)
    rng = np.random.default_rng(0)
    train = rng.random(len(ref)) < 0.5
    model = HistGradientBoostingClassifier(
        categorical_features=[FEATURES.index(c) for c in CATEGORICAL], random_state=0
    ).fit(ref.loc[train, FEATURES], ref.loc[train, "employed"])
    WORK.mkdir(exist_ok=True)
    joblib.dump(model, WORK / "model.joblib")
    outputs = []
    for frame in (ref.loc[~train].reset_index(drop=True), cur):
        proba = model.predict_proba(frame[FEATURES])[:, 1]
        outputs.append(
            frame.assign(predicted_probability=proba, prediction=(proba >= 0.5).astype(int))
        )
    reference, current = outputs
    current["survey_date"] = pd.to_datetime(current["year"].astype(str) + "-01-01")
    reference.to_parquet(WORK / "reference.parquet", index=False)
    current.to_parquet(WORK / "current.parquet", index=False)
    labels.to_parquet(WORK / "labels.parquet", index=False)
    print(
        f"trained on {int(train.sum())} rows of 2015; reference {len(reference)} rows (2015), "
        f"current {len(current)} rows ({', '.join(map(str, sorted(current.year.unique())))}), "
        f"labels {len(labels)}; in {time.perf_counter() - t0:.1f} s -> {WORK}"
    )


if __name__ == "__main__":
    main()
