"""Label leakage on a real tabular set, and the memorisation helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from assay.leakage import continuation_match, label_leakage, split_prompt


def test_planted_leaky_feature_is_flagged(seed: int) -> None:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns={"target": "y"})
    rng = np.random.default_rng(seed)
    frame["record_code"] = np.where(frame["y"] == 1, "B", "M")  # written after the diagnosis
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    train, test = frame.iloc[:400], frame.iloc[400:]
    features = [c for c in frame.columns if c != "y"]
    leaks = label_leakage(train, test, features=features, label="y", threshold=0.98)
    flagged = [f.feature for f in leaks if f.flagged]
    assert flagged == ["record_code"]
    top = leaks[0]
    assert top.feature == "record_code" and top.accuracy == 1.0 and top.kind == "categorical"
    # the oracle for a numeric feature: the same one-feature tree fitted directly
    from sklearn.tree import DecisionTreeClassifier

    col = "worst area"
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(
        train[[col]].to_numpy(), train["y"].astype(str)
    )
    want = float(np.mean(tree.predict(test[[col]].to_numpy()) == test["y"].astype(str)))
    got = next(f for f in leaks if f.feature == col)
    assert got.accuracy == pytest.approx(want) and not got.flagged
    del rng


def test_split_prompt_and_match() -> None:
    p = split_prompt("one two three four five six seven eight nine ten", 0.5)
    assert p is not None and p.prompt == "one two three four five"
    assert p.continuation == "six seven eight nine ten"
    assert split_prompt("too short", 0.5) is None
    assert continuation_match(p.continuation, "Six, seven eight nine ten and more") == (True, True)
    assert continuation_match(p.continuation, "six seven eight nine eleven") == (False, True)
    assert continuation_match(p.continuation, "completely different") == (False, False)
    assert pd.isna(np.nan)
