"""A realistic sample Report for the renderers' tests.

The numbers are computed from seeded synthetic predictions with scikit-learn so that curves,
confusion matrices and reliability bins are mutually consistent; intervals are normal
approximations, which is all a renderer needs.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from assay.report._schema import CheckResult, ErrorSummary, GateOutcome, Report
from assay.stats._estimate import Estimate

LEVEL = 0.95
SCRIPT_INPUT = "<script>alert('pwned')</script> great movie & more"


def _prop(p: float, n: int, method: str = "wilson") -> Estimate:
    """A proportion with a normal-approximation interval clipped to [0, 1]."""
    if n == 0 or math.isnan(p):
        return Estimate(math.nan, math.nan, math.nan, LEVEL, method, n)
    h = 1.96 * math.sqrt(max(p * (1 - p), 1e-4) / n)
    return Estimate(float(p), max(0.0, p - h), min(1.0, p + h), LEVEL, method, n)


def _pos(x: float, rel: float, n: int, method: str = "bootstrap") -> Estimate:
    return Estimate(float(x), float(x) * (1 - rel), float(x) * (1 + rel), LEVEL, method, n)


def _reliability(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> dict[str, list[Any]]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    out: dict[str, list[Any]] = {k: [] for k in
                                 ("bin_lower", "bin_upper", "mean_confidence", "accuracy", "count")}
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        out["bin_lower"].append(float(lo))
        out["bin_upper"].append(float(hi))
        k = int(m.sum())
        out["count"].append(k)
        out["mean_confidence"].append(float(conf[m].mean()) if k else None)
        out["accuracy"].append(float(correct[m].mean()) if k else None)
    return out


def _classification(
    model: str, dataset: str, labels: list[str], rng: np.random.Generator, n: int, skill: float
) -> CheckResult:
    k = len(labels)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += skill
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    if k > 2:  # a rare class the model never predicts: its precision is undefined
        y[:7] = k - 1
        pred[pred == k - 1] = 0
    correct = pred == y
    m: dict[str, Estimate] = {
        "accuracy": _prop(skm.accuracy_score(y, pred), n),
        "balanced_accuracy": _prop(skm.balanced_accuracy_score(y, pred), n, "bootstrap-counts"),
        "mcc": _pos(skm.matthews_corrcoef(y, pred), 0.08, n, "bootstrap-counts"),
        "cohen_kappa": _pos(skm.cohen_kappa_score(y, pred), 0.08, n, "bootstrap-counts"),
        "log_loss": _pos(skm.log_loss(y, proba, labels=list(range(k))), 0.06, n),
        "ece": _pos(float(np.abs(proba.max(axis=1) - correct).mean() / 4), 0.3, n),
    }
    for avg in ("macro", "micro", "weighted"):
        m[f"precision_{avg}"] = _prop(
            skm.precision_score(y, pred, average=avg, zero_division=0), n, "bootstrap-counts"
        )
        m[f"recall_{avg}"] = _prop(skm.recall_score(y, pred, average=avg), n, "bootstrap-counts")
        m[f"f1_{avg}"] = _prop(skm.f1_score(y, pred, average=avg), n, "bootstrap-counts")
    cm = skm.confusion_matrix(y, pred, labels=list(range(k)))
    spec = []
    for i, lab in enumerate(labels):
        tp = cm[i, i]
        fp = cm[:, i].sum() - tp
        fn = cm[i, :].sum() - tp
        tn = cm.sum() - tp - fp - fn
        prec = tp / (tp + fp) if tp + fp else math.nan
        rec = tp / (tp + fn)
        f1 = 2 * prec * rec / (prec + rec) if not math.isnan(prec) and prec + rec else math.nan
        spec.append(tn / (tn + fp))
        m[f"per_class.{lab}.precision"] = _prop(prec, int(tp + fp))
        m[f"per_class.{lab}.recall"] = _prop(rec, int(tp + fn))
        m[f"per_class.{lab}.f1"] = _prop(f1, int(tp + fn), "bootstrap-counts")
        m[f"per_class.{lab}.specificity"] = _prop(tn / (tn + fp), int(tn + fp))
        m[f"per_class.{lab}.support"] = Estimate.point(float(tp + fn), n=n)
    m["specificity_macro"] = _prop(float(np.mean(spec)), n, "bootstrap-counts")
    tables: dict[str, Any] = {
        "task": "classification",
        "labels": labels,
        "confusion_matrix": cm.tolist(),
        "reliability": _reliability(proba.max(axis=1), correct),
    }
    if k == 2:
        score = proba[:, 1]
        m["roc_auc"] = _pos(skm.roc_auc_score(y, score), 0.03, n, "delong")
        m["average_precision"] = _pos(skm.average_precision_score(y, score), 0.04, n)
        m["brier"] = _pos(skm.brier_score_loss(y, score), 0.1, n)
        fpr, tpr, thr = skm.roc_curve(y, score)
        prec_c, rec_c, thr_pr = skm.precision_recall_curve(y, score)
        tables["roc_curve"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(),
                               "thresholds": [float(t) for t in thr]}  # thr[0] is inf
        tables["pr_curve"] = {"precision": prec_c.tolist(), "recall": rec_c.tolist(),
                              "thresholds": thr_pr.tolist()}
    else:
        m["roc_auc_ovr_macro"] = _pos(
            skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"), 0.03, n
        )
        tables["roc_curve"], tables["pr_curve"] = {}, {}
        for i, lab in enumerate(labels):
            fpr, tpr, thr = skm.roc_curve(y == i, proba[:, i])
            prec_c, rec_c, thr_pr = skm.precision_recall_curve(y == i, proba[:, i])
            tables["roc_curve"][lab] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(),
                                        "thresholds": [float(t) for t in thr]}
            tables["pr_curve"][lab] = {"precision": prec_c.tolist(), "recall": rec_c.tolist(),
                                       "thresholds": thr_pr.tolist()}
    wrong = np.flatnonzero(~correct)[:20]
    examples = [
        {
            "id": f"{dataset}-{int(i)}",
            "input": SCRIPT_INPUT if j == 0 else f"example text number {int(i)} " * (3 + j % 40),
            "label": labels[int(y[i])],
            "prediction": labels[int(pred[i])],
            "confidence": round(float(proba[i].max()), 4),
        }
        for j, i in enumerate(wrong)
    ]
    return CheckResult(check="performance", model=model, dataset=dataset, n=n, metrics=m,
                       tables=tables, examples=examples)


def _regression(rng: np.random.Generator) -> CheckResult:
    n = 400
    y = rng.gamma(4.0, 50.0, n)
    pred = y + rng.normal(5.0, 25.0, n)
    res = pred - y
    m = {
        "mse": _pos(skm.mean_squared_error(y, pred), 0.1, n),
        "rmse": _pos(math.sqrt(skm.mean_squared_error(y, pred)), 0.05, n),
        "mae": _pos(skm.mean_absolute_error(y, pred), 0.06, n),
        "mape": Estimate(math.nan, math.nan, math.nan, LEVEL, "bootstrap", n),  # a y_true of 0
        "r2": Estimate(float(skm.r2_score(y, pred)), 0.91, 0.95, LEVEL, "bootstrap", n),
        "median_absolute_error": _pos(skm.median_absolute_error(y, pred), 0.08, n),
        "mean_residual": Estimate(float(res.mean()), float(res.mean()) - 2.4,
                                  float(res.mean()) + 2.4, LEVEL, "t", n),
    }
    qs = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]
    return CheckResult(
        check="performance", model="price-reg", dataset="listings", n=n, metrics=m,
        tables={
            "task": "regression",
            "residual_quantiles": {"q": qs, "value": np.quantile(res, qs).tolist()},
            "scatter": {"y_true": y.round(3).tolist(), "y_pred": pred.round(3).tolist()},
        },
        examples=[{"id": f"listing-{i}", "input": f"2 bed flat, zone {i % 7}",
                   "label": round(float(y[i]), 2), "prediction": round(float(pred[i]), 2)}
                  for i in np.argsort(-np.abs(res))[:5]],
    )


def _slices(model: str, rng: np.random.Generator) -> CheckResult:
    rows: list[dict[str, Any]] = []
    metrics: dict[str, Estimate] = {}
    spec = [("genre", "drama", 310, 0.91), ("genre", "comedy", 280, 0.89),
            ("genre", "horror", 150, 0.71), ("genre", "western", 9, 0.78),
            ("length", "short", 400, 0.90), ("length", "long", 340, 0.84),
            ("lang", "<b>fr</b>", 0, math.nan)]
    for col, val, n, acc in spec:
        too_small = n < 30
        flagged = val == "horror"
        est = {"accuracy": _prop(acc, n), "f1_macro": _prop(acc - 0.02, n, "bootstrap-counts")}
        for name, e in est.items():
            metrics[f"{col}.{val}.{name}"] = e
        rows.append({
            "column": col, "value": val, "n": n, "too_small": too_small, "flagged": flagged,
            "p_adjusted": None if too_small or n == 0 else (0.0004 if flagged else 0.62),
            "metrics": {name: e.to_dict() for name, e in est.items()},
        })
    return CheckResult(check="slices", model=model, dataset="reviews", n=740, metrics=metrics,
                       tables={"slices": rows, "min_n": 30},
                       flags=["slice genre=horror is significantly worse (p_adj=0.0004)"])


def make_report() -> Report:
    rng = np.random.default_rng(20240611)
    candidate = _classification("candidate", "reviews", ["negative", "positive"], rng, 740, 1.9)
    candidate.errors = ErrorSummary(
        n_requests=743, n_errors=3, treatment="exclude",
        examples=[{"key": "reviews-17", "error": "TimeoutError: no answer after 30 s"},
                  {"key": "reviews-233", "error": "HTTP 500 <html>Internal error</html>"}],
    )
    baseline = _classification("baseline", "reviews", ["negative", "positive"], rng, 740, 1.4)
    topics = _classification("topic-clf", "topics", ["world", "sports", "business", "sci/tech"],
                             rng, 600, 2.2)
    acc = candidate.metrics["accuracy"]
    gates = [
        GateOutcome(gate="performance.accuracy.lower >= 0.80", passed=True,
                    observed=acc.lower, threshold=0.80, detail="lower bound of accuracy"),
        GateOutcome(gate="performance.roc_auc.lower >= 0.97", passed=False,
                    observed=candidate.metrics["roc_auc"].lower, threshold=0.97,
                    detail="lower bound of ROC AUC is below the threshold"),
        GateOutcome(gate="slices.*.accuracy.lower >= 0.70", passed=False, observed=0.6386,
                    threshold=0.70, detail="2 of 6 slices below the threshold",
                    matches=[{"path": "slices.genre.horror.accuracy.lower", "observed": 0.6386,
                              "passed": False},
                             {"path": "slices.genre.western.accuracy.lower", "observed": 0.5083,
                              "passed": False}]),
        GateOutcome(gate="performance.mape.value <= 0.1", passed=False, observed=None,
                    threshold=0.1, detail="mape is undefined"),
    ]
    return Report(
        assay_version="0.1.0",
        suite_name="sentiment-release-check",
        suite={"name": "sentiment-release-check", "level": LEVEL, "seed": 7,
               "checks": {"performance": {}, "slices": {"columns": ["genre", "length", "lang"]}}},
        created_at="2024-06-11T09:30:00+00:00",
        duration_s=42.7,
        seed=7,
        level=LEVEL,
        datasets=[
            {"name": "reviews", "path": "data/reviews.csv", "fingerprint": "sha256:9f2c0e1ab3d4",
             "n_read": 760, "n_valid": 743, "dropped": {"empty_input": 12, "unknown_label": 5},
             "labels": ["negative", "positive"]},
            {"name": "topics", "path": "data/topics.jsonl", "fingerprint": "sha256:aa01bc77e9f0",
             "n_read": 600, "n_valid": 600, "dropped": {},
             "labels": ["world", "sports", "business", "sci/tech"]},
            {"name": "listings", "path": "data/listings.parquet", "fingerprint": "sha256:5e5e12",
             "n_read": 401, "n_valid": 400, "dropped": {"non_finite_label": 1}, "labels": None},
        ],
        models=[
            {"name": "candidate", "spec": "hf:./checkpoints/distilbert-ft",
             "task": "classification", "fingerprint": "c0ffee12",
             "labels": ["negative", "positive"],
             "details": {"revision": "step-1200", "dtype": "float32"}},
            {"name": "baseline", "spec": "sklearn:models/tfidf_lr.joblib",
             "task": "classification", "fingerprint": "b45e1111",
             "labels": ["negative", "positive"], "details": {}},
            {"name": "topic-clf", "spec": "python:my_models:topics", "task": "classification",
             "fingerprint": "70b1c5", "labels": ["world", "sports", "business", "sci/tech"],
             "details": {}},
            {"name": "price-reg", "spec": "predictions:preds/prices.csv", "task": "regression",
             "fingerprint": "9e9e9e", "labels": None, "details": {"column": "pred"}},
        ],
        environment={"python": "3.11.9", "platform": "Linux-6.1-x86_64",
                     "packages": {"assay": "0.1.0", "numpy": "2.0.0", "scikit-learn": "1.5.0"}},
        engine={"n_requests": 2483, "n_cached": 1200, "n_called": 1283, "n_errors": 3,
                "wall_s": 38.2},
        results=[baseline, candidate, topics, _regression(rng), _slices("candidate", rng)],
        gates=gates,
        notes=["3 requests failed and were excluded from every metric."],
    )


@pytest.fixture
def sample_report() -> Report:
    """Binary (two models), multiclass and regression performance, slices, gates, errors, NaN.

    A fresh copy per test, free to modify.
    """
    return make_report()


@pytest.fixture(scope="session")
def shared_report() -> Report:
    """The same Report, built once per session; tests must not modify it."""
    return make_report()


@pytest.fixture(scope="session")
def script_input() -> str:
    """The user text with a ``<script>`` tag that the sample Report carries in an example."""
    return SCRIPT_INPUT
