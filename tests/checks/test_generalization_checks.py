"""The generalization, leakage and cv checks end to end, through ``evaluate`` on real data sets."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from assay import evaluate
from assay._runner import suite_from_dict
from assay.errors import ModelError
from assay.stats import corrected_resampled_t, stream

HOOKS = """
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = {features!r}

def fit(rows):
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return model.fit(rows[FEATURES], rows["y"].astype(str))

def fit_fails_on_small(rows):
    if len(rows) < 200:
        raise RuntimeError("planted failure")
    return fit(rows)

def memorising_model(prompts):
    return [TEXTS.get(p, "no idea") for p in prompts]
memorising_model.task = "generation"
TEXTS = {{}}
"""


@pytest.fixture
def cancer(tmp_path: Path, seed: int) -> dict:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns={"target": "y"})
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    features = [c for c in frame.columns if c not in ("id", "y")][:8]
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    train, test = frame.iloc[:400], frame.iloc[400:]
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(train[features], train["y"].astype(str))
    joblib.dump(model, tmp_path / "model.joblib")
    (tmp_path / "hooks.py").write_text(HOOKS.format(features=features))
    spec = {"id": "id", "input": features, "label": "y"}
    return {"dir": tmp_path, "features": features, "train": train, "test": test, "spec": spec}


def _suite(c: dict, checks: dict, **extra) -> object:
    raw = {
        "data": {
            "test": {"path": "test.csv", **c["spec"]},
            "train": {"path": "train.csv", **c["spec"]},
        },
        "models": {"candidate": "sklearn:model.joblib"},
        "trust": True,
        "checks": checks,
        "engine": {"cache": str(c["dir"] / "cache.db"), "progress": False},
        **extra,
    }
    return suite_from_dict(raw, base_dir=c["dir"])


def test_cv_with_sklearn_clone_matches_a_literal_cross_validation(cancer: dict, seed: int) -> None:
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    report = evaluate(
        _suite(cancer, {"cv": {"folds": 5, "metrics": ["accuracy"]}}),
        write=False,
        progress=False,
        seed=seed,
    )
    r = report.result("cv")
    train = cancer["train"]
    est = joblib.load(cancer["dir"] / "model.joblib")
    y = train["y"].astype(str).to_numpy()
    scores, n_tr, n_te = [], [], []
    # the folds are shuffled with an int drawn from the cv check's fold stream (shared by models)
    shuffle_seed = int(stream(seed, "cv", "*", "folds").integers(2**32))
    folds = StratifiedKFold(5, shuffle=True, random_state=shuffle_seed)
    for tr, te in folds.split(np.zeros(len(y)), y):
        m = clone(est).fit(train.iloc[tr][cancer["features"]], y[tr])
        scores.append(float(np.mean(m.predict(train.iloc[te][cancer["features"]]) == y[te])))
        n_tr.append(len(tr))
        n_te.append(len(te))
    want = corrected_resampled_t(scores, n_train=np.mean(n_tr), n_test=np.mean(n_te))
    got = r.metrics["accuracy"]
    assert got.method == "nadeau-bengio"
    assert (got.value, got.lower, got.upper) == pytest.approx(
        (want.value, want.lower, want.upper), abs=1e-12
    )
    assert [f["accuracy"] for f in r.tables["per_fold"]] == pytest.approx(scores, abs=1e-12)
    # a second run answers every fold model from the cache: no refit
    again = evaluate(
        _suite(cancer, {"cv": {"folds": 5, "metrics": ["accuracy"]}}),
        write=False,
        progress=False,
        seed=seed,
    )
    assert again.engine["n_called"] == 0
    assert again.result("cv").metrics["accuracy"] == got


def test_cv_python_hook_repeated_and_learning_curve(cancer: dict) -> None:
    checks = {
        "cv": {
            "fit": "python:hooks.py:fit",
            "folds": 3,
            "repeats": 2,
            "learning_curve": [0.3],
            "metrics": ["accuracy", "roc_auc"],
        }
    }
    r = evaluate(_suite(cancer, checks), write=False, progress=False).result("cv")
    full = [f for f in r.tables["per_fold"] if f["fraction"] == 1.0]
    assert len(full) == 6 and r.metrics["accuracy"].n == 6
    assert 0.85 < r.metrics["accuracy"].value < 1.0
    curve = r.tables["learning_curve"]
    assert [p["fraction"] for p in curve] == [0.3, 1.0]
    assert curve[0]["n_train"] < curve[1]["n_train"]


def test_cv_fit_hook_failure_names_the_fold_and_traceback(cancer: dict) -> None:
    checks = {
        "cv": {"fit": "python:hooks.py:fit_fails_on_small", "folds": 3, "learning_curve": [0.5]}
    }
    with pytest.raises(ModelError) as e:
        evaluate(_suite(cancer, checks), write=False, progress=False)
    msg = str(e.value)
    assert "fold 1 at 50%" in msg and "planted failure" in msg and "Traceback" in msg


def test_generalization_log_and_train_test_gap(cancer: dict) -> None:
    log = cancer["dir"] / "trainer_state.json"
    hist = []
    for s in range(1, 11):
        hist.append({"loss": 1 / s, "step": s * 10})
        hist.append({"eval_loss": 0.5 + 0.05 * abs(s - 4), "step": s * 10})
    log.write_text(json.dumps({"log_history": hist}))
    suite = _suite(
        cancer,
        {"generalization": {"log": "trainer_state.json", "smoothing": 0}},
        gates=["generalization.curves.severity.value <= 1"],
    )
    report = evaluate(suite, write=False, progress=False)
    r = report.result("generalization")
    assert r.tables["curves"]["verdict"] == "severe" and r.tables["curves"]["best_step"] == 40
    assert not report.passed
    model = joblib.load(cancer["dir"] / "model.joblib")
    k = {
        w: int((model.predict(cancer[w][cancer["features"]]) == cancer[w]["y"].astype(str)).sum())
        for w in ("train", "test")
    }
    from assay.stats import proportion_difference

    want = proportion_difference(k["train"], 400, k["test"], len(cancer["test"]))
    got = r.metrics["train_test_gap.accuracy"]
    assert (got.value, got.lower, got.upper) == pytest.approx((want.value, want.lower, want.upper))


def test_train_test_gap_of_macro_f1_matches_sklearn_and_a_row_bootstrap(cancer: dict) -> None:
    """The gap covered accuracy only; macro F1 now has one too, by an independent bootstrap of
    each side's confusion counts, checked against scikit-learn and a literal row bootstrap."""
    from sklearn.metrics import f1_score

    r = evaluate(_suite(cancer, {"generalization": {}}), write=False, progress=False).result(
        "generalization"
    )
    model = joblib.load(cancer["dir"] / "model.joblib")
    truth = {w: cancer[w]["y"].astype(str).to_numpy() for w in ("train", "test")}
    pred = {w: model.predict(cancer[w][cancer["features"]]) for w in ("train", "test")}
    f1 = {w: f1_score(truth[w], pred[w], average="macro") for w in ("train", "test")}
    assert r.metrics["train.f1_macro"].value == pytest.approx(f1["train"], abs=1e-12)
    assert r.metrics["test.f1_macro"].value == pytest.approx(f1["test"], abs=1e-12)
    gap = r.metrics["train_test_gap.f1_macro"]
    assert gap.value == pytest.approx(f1["train"] - f1["test"], abs=1e-12)
    assert gap.method == "bootstrap-counts-independent"
    rng = np.random.default_rng(1)
    diffs = []
    for _ in range(2000):
        one = {}
        for w in ("train", "test"):
            i = rng.integers(0, len(truth[w]), len(truth[w]))
            one[w] = f1_score(truth[w][i], pred[w][i], average="macro")
        diffs.append(one["train"] - one["test"])
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    assert gap.lower == pytest.approx(lo, abs=0.01) and gap.upper == pytest.approx(hi, abs=0.01)


def test_leakage_check_label_leak_and_recomputed_metrics(cancer: dict) -> None:
    for w in ("train", "test"):
        f = cancer[w].copy()
        f["chart_code"] = np.where(f["y"] == 1, "B", "M")
        f.to_csv(cancer["dir"] / f"{w}.csv", index=False)
    cancer["spec"]["input"] = [*cancer["features"], "chart_code"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        cancer["train"][cancer["features"]], cancer["train"]["y"].astype(str)
    )
    joblib.dump(model, cancer["dir"] / "model.joblib")
    r = evaluate(_suite(cancer, {"leakage": {}}), write=False, progress=False).result("leakage")
    assert any("chart_code" in f for f in r.flags)
    assert r.metrics["label_leakage.chart_code.accuracy"].value == 1.0


def test_leakage_check_on_texts_and_memorisation(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    train = [" ".join(rng.choice(words, 16)) for _ in range(120)]
    test = [" ".join(rng.choice(words, 16)) for _ in range(60)] + train[:6]
    pd.DataFrame({"id": range(len(train)), "text": train, "label": ["a", "b"] * 60}).to_csv(
        tmp_path / "train.csv", index=False
    )
    pd.DataFrame(
        {"id": range(len(test)), "text": test, "label": (["a", "b"] * 33)[: len(test)]}
    ).to_csv(tmp_path / "test.csv", index=False)
    # a generative model that recites its training texts
    (tmp_path / "gen.py").write_text(
        textwrap.dedent("""
        import csv
        from pathlib import Path
        with open(Path(__file__).parent / "train.csv") as f:
            rows = list(csv.DictReader(f))
        def complete(prompts):
            out = []
            for p in prompts:
                hit = next((r["text"] for r in rows if r["text"].startswith(p + " ")), None)
                out.append(hit[len(p) + 1:] if hit else "w1 w2 w3")
            return out
        complete.task = "generation"
    """)
    )
    spec = {"id": "id", "input": "text", "label": "label"}
    suite = suite_from_dict(
        {
            "data": {"test": {"path": "test.csv", **spec}, "train": {"path": "train.csv", **spec}},
            "models": {"llm": "python:gen.py:complete"},
            "task": "generation",
            "checks": {"leakage": {"memorisation": {"n": 50}}},
            "engine": {"cache": None, "progress": False},
        },
        base_dir=tmp_path,
    )
    r = evaluate(suite, write=False, progress=False).result("leakage")
    assert r.tables["duplicates"]["n_exact"] == 6
    assert r.metrics["exact.rate"].value == pytest.approx(6 / 66)
    assert r.metrics["memorisation.train.exact_rate"].value == 1.0
    held = r.metrics["memorisation.held_out.exact_rate"].value
    assert held == pytest.approx(6 / 50, abs=0.1)  # only the leaked copies are "recited"
    assert r.metrics["memorisation.exact_rate_difference"].lower > 0
    assert any("memorised" in f for f in r.flags)
    assert not math.isnan(r.metrics["near.rate"].value)


def test_cv_default_metrics_are_the_headline_metrics_the_problem_has(
    tmp_path: Path, seed: int
) -> None:
    """Multiclass: the one-vs-rest ROC AUC (a headline metric the cv defaults missed) and no
    empty binary ROC AUC column."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.rename(columns={"target": "y"})
    frame.columns = [c.replace(" ", "_").replace("(", "").replace(")", "") for c in frame.columns]
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    features = [c for c in frame.columns if c not in ("id", "y")]
    frame.to_csv(tmp_path / "test.csv", index=False)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    joblib.dump(model.fit(frame[features], frame["y"].astype(str)), tmp_path / "model.joblib")
    suite = suite_from_dict(
        {
            "data": {"path": "test.csv", "id": "id", "input": features, "label": "y"},
            "models": {"candidate": "sklearn:model.joblib"},
            "trust": True,
            "checks": {"cv": {"folds": 3}},
            "engine": {"cache": str(tmp_path / "cache.db"), "progress": False},
        },
        base_dir=tmp_path,
    )
    r = evaluate(suite, write=False, progress=False, seed=seed).result("cv")
    assert r.tables["metric_names"] == ["accuracy", "f1_macro", "roc_auc_ovr_macro"]
    assert 0.8 < r.metrics["roc_auc_ovr_macro"].value <= 1.0
