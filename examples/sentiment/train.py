"""The sentiment model's training recipe, as a ``fit`` hook for cross-validation.

``assay cv examples/sentiment/suite_tfidf.yaml --fit examples.sentiment.train:fit`` (or the suite's
``checks.cv.fit``) calls :func:`fit` once per fold with that fold's training rows.
"""

from __future__ import annotations

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline


def fit(rows: pd.DataFrame) -> Pipeline:
    """TF-IDF (word 1–2-grams) + logistic regression on the ``text`` and ``label`` columns."""
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(C=4.0, max_iter=2000),
    )
    return model.fit(rows["text"].astype(str).tolist(), rows["label"].astype(str).to_numpy())
