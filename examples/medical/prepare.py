"""Build the medical example: scikit-learn's bundled breast-cancer diagnosis data (Wisconsin
diagnostic, 569 biopsies, 212 malignant) and a diagnosis classifier.

Output goes to ``examples/medical/work/`` (ignored by git):

- ``train.csv`` / ``test.csv``: ``id``, the 30 cell-nucleus features (spaces in their names
  become ``_``), ``size_band`` (tertiles of ``mean_radius`` over all rows: ``small``, ``medium``,
  ``large``, a slice to check coverage per tumour size) and ``diagnosis`` (``benign`` or
  ``malignant``);
- ``model.joblib``: a scikit-learn pipeline (standard scaling, then logistic regression) fitted on
  the training rows.

The suite evaluates the model on the test rows, splitting them into calibration and test rows
itself. Run: ``python examples/medical/prepare.py [--train-fraction 0.35]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"


def frame() -> pd.DataFrame:
    """The 569 biopsies as one table, with ids, the size band and the diagnosis as words."""
    data = load_breast_cancer()
    df = pd.DataFrame(data.data, columns=[c.replace(" ", "_") for c in data.feature_names])
    df.insert(0, "id", [f"b{i:03d}" for i in range(len(df))])
    df["size_band"] = pd.qcut(df["mean_radius"], 3, labels=["small", "medium", "large"]).astype(str)
    # sklearn codes malignant as 0 and benign as 1; the words avoid that trap
    df["diagnosis"] = np.where(data.target == 0, "malignant", "benign")
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-fraction", type=float, default=0.35)
    args = ap.parse_args(argv)
    df = frame()
    train, test = train_test_split(
        df, train_size=args.train_fraction, stratify=df["diagnosis"], random_state=0
    )
    features = [c for c in df.columns if c not in ("id", "size_band", "diagnosis")]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))
    model.fit(train[features], train["diagnosis"])
    WORK.mkdir(exist_ok=True)
    train.to_csv(WORK / "train.csv", index=False)
    test.to_csv(WORK / "test.csv", index=False)
    joblib.dump(model, WORK / "model.joblib")
    print(
        f"wrote {WORK}: {len(train)} training and {len(test)} evaluation biopsies "
        f"({(test['diagnosis'] == 'malignant').sum()} malignant), model.joblib"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
