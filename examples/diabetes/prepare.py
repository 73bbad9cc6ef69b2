"""Build the regression uncertainty example: scikit-learn's bundled diabetes data (442
patients, a disease-progression score one year on) and two regressors that say how sure they are.

Output goes to ``examples/diabetes/work/`` (ignored by git):

- ``cal.csv`` / ``test.csv``: ``id``, the ten baseline features, ``sex_group`` (``a``/``b``,
  the sign of the scaled ``sex`` column) and ``progression``; rows 150–299 calibrate, rows
  300–441 test (rows 0–149 train the models);
- ``preds.csv``: a BayesianRidge's predictions with its predictive standard deviation in the
  ``spread`` column (read by ``suite_spread.yaml``: abstention by spread, normalized conformal);
- ``gbr.joblib``: gradient boosting with the quantile loss at 0.05, 0.95 and 0.5, answered by
  ``qmodel.py`` as ``{"value": median, "quantiles": {0.05: lo, 0.95: hi}}`` (read by
  ``suite_quantiles.yaml``: CQR).

Run: ``python examples/diabetes/prepare.py``.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import BayesianRidge

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"


def main() -> int:
    data = load_diabetes(as_frame=True)
    df = data.frame.rename(columns={"target": "progression"})
    features = list(data.feature_names)
    df.insert(0, "id", [f"p{i:03d}" for i in range(len(df))])
    df["sex_group"] = np.where(df["sex"] > 0, "a", "b")
    train = df[:150]
    WORK.mkdir(exist_ok=True)
    df[150:300].to_csv(WORK / "cal.csv", index=False)
    df[300:].to_csv(WORK / "test.csv", index=False)
    br = BayesianRidge().fit(train[features], train["progression"])
    mean, std = br.predict(df[features], return_std=True)
    pd.DataFrame({"id": df["id"], "value": mean, "spread": std}).to_csv(
        WORK / "preds.csv", index=False
    )
    lo, hi, mid = (
        GradientBoostingRegressor(
            loss="quantile", alpha=a, n_estimators=60, max_depth=2, random_state=0
        ).fit(train[features], train["progression"])
        for a in (0.05, 0.95, 0.5)
    )
    joblib.dump((lo, hi, mid, features), WORK / "gbr.joblib")
    print(
        f"wrote {WORK}: cal.csv (150 rows), test.csv ({len(df) - 300} rows), preds.csv, gbr.joblib"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
