"""The uncertainty check end to end: a real scikit-learn model through a suite file, its numbers
against MAPIE and scikit-learn on the same calibration and test rows, and its bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.pipeline import make_pipeline

import assay
from assay.errors import ConfigError
from assay.report import render_html, render_markdown
from assay.stats import stream
from assay.uncertainty import conformal_classification

mapie_classification = pytest.importorskip("mapie.classification")

ISSUE_GATES = [
    "uncertainty.selective.coverage_0.9.risk.upper <= 0.5",
    "uncertainty.conformal.coverage.lower >= 0.5",
    "uncertainty.conformal.groups.*.coverage.lower >= 0.3",
    "uncertainty.operating_point.sensitivity.lower >= 0.3",
]


def _binary(tmp: Path, n: int = 900) -> tuple[pd.DataFrame, LogisticRegression, list[str]]:
    X, y = make_classification(n_samples=n, n_features=6, n_informative=4, random_state=3)
    cols = [f"x{i}" for i in range(6)]
    frame = pd.DataFrame(X, columns=cols)
    frame.insert(0, "id", [f"r{i}" for i in range(n)])
    frame["site"] = np.where(np.arange(n) % 3 == 0, "north", "south")
    frame["label"] = np.where(y == 1, "pos", "neg")
    model = LogisticRegression(max_iter=500).fit(frame[cols][:300], frame["label"][:300])
    joblib.dump(model, tmp / "model.joblib")
    frame[300:600].to_csv(tmp / "cal.csv", index=False)
    frame[600:].to_csv(tmp / "test.csv", index=False)
    return frame, model, cols


def _suite(
    tmp: Path, checks: dict[str, Any], gates: list[str], cols: list[str], **extra: Any
) -> Path:
    spec = {"id": "id", "input": cols, "label": "label", "labels": ["neg", "pos"]}
    suite = {
        "name": "u",
        "seed": 0,
        "data": {
            "test": {"path": "test.csv", **spec, "groups": ["site"]},
            "cal": {"path": "cal.csv", **spec},
        },
        "models": {"candidate": "sklearn:model.joblib"},
        "trust": True,
        "checks": checks,
        "gates": gates,
        **extra,
    }
    p = tmp / "suite.yaml"
    p.write_text(yaml.safe_dump(suite, sort_keys=False))
    return p


# MAPIE probes the estimator with an unnamed zero row; scikit-learn warns about feature names
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_calibration_dataset_numbers_equal_mapie_and_roc_curve(tmp_path):
    frame, model, cols = _binary(tmp_path)
    checks = {
        "uncertainty": {
            "calibration_dataset": "cal",
            "coverage": [0.8, 0.9, 0.95],
            "conformal": {"alpha": 0.1, "method": "lac"},
            "operating_points": {"specificity": 0.9, "positive_label": "pos"},
        }
    }
    report = assay.evaluate(_suite(tmp_path, checks, ISSUE_GATES, cols), progress=False)
    r = report.result("uncertainty")
    cal, test = frame[300:600], frame[600:]
    # conformal: MAPIE on the same rows
    m = mapie_classification.SplitConformalClassifier(
        model, confidence_level=0.9, conformity_score="lac", prefit=True
    ).conformalize(cal[cols], cal["label"])
    _, sets = m.predict_set(test[cols])
    y_idx = (test["label"] == "pos").to_numpy().astype(int)
    cover = sets[np.arange(len(test)), y_idx, 0]
    assert r.metrics["conformal.coverage"].value == pytest.approx(cover.mean())
    assert r.metrics["conformal.size"].value == pytest.approx(sets[:, :, 0].sum(axis=1).mean())
    north = (test["site"] == "north").to_numpy()
    assert r.metrics["conformal.groups.site:north.coverage"].value == pytest.approx(
        cover[north].mean()
    )
    # operating point: the threshold from roc_curve on the calibration rows
    s_cal = model.predict_proba(cal[cols])[:, 1]
    fpr, tpr, thr = roc_curve(cal["label"] == "pos", s_cal, drop_intermediate=False)
    ok = 1 - fpr >= 0.9
    t = thr[ok][np.argmax(tpr[ok])]
    s_test = model.predict_proba(test[cols])[:, 1]
    pos = (test["label"] == "pos").to_numpy()
    assert r.metrics["operating_point.threshold"].value == pytest.approx(t)
    assert r.metrics["operating_point.sensitivity"].value == pytest.approx(
        (s_test[pos] >= t).mean()
    )
    # selective: the 90% most confident test rows
    conf = np.maximum(s_test, 1 - s_test)
    wrong = (s_test >= 0.5) != pos
    keep = np.argsort(-conf, kind="stable")[: int(np.ceil(0.9 * len(test)))]
    assert r.metrics["selective.coverage_0.9.risk"].value == pytest.approx(wrong[keep].mean())
    # the issue's gates resolve and pass
    assert [g.passed for g in report.gates] == [True] * 4, [g.detail for g in report.gates]
    assert r.tables["split"] == {"n_calibration": 300, "n_test": 300}
    assert r.metrics["calibration.temperature_scaled.ece"].defined


def test_split_is_shared_by_models_and_reported(tmp_path):
    _frame, _model, cols = _binary(tmp_path)
    checks = {"uncertainty": {"calibration_split": 0.4, "conformal": {"alpha": 0.1}}}
    p = _suite(tmp_path, checks, [], cols)
    r1 = assay.evaluate(p, progress=False).result("uncertainty")
    r2 = assay.evaluate(p, progress=False, no_cache=True).result("uncertainty")
    assert r1.tables["split"] == {"n_calibration": 120, "n_test": 180}
    assert r1.metrics["conformal.coverage"] == r2.metrics["conformal.coverage"]


def test_calibration_split_too_small_names_the_smallest_n(tmp_path):
    _frame, _model, cols = _binary(tmp_path)
    checks = {"uncertainty": {"calibration_split": 0.01, "conformal": {"alpha": 0.05}}}
    with pytest.raises(ConfigError, match=r"3 calibration rows are too few.*= 19.*at least 0\.07"):
        assay.evaluate(_suite(tmp_path, checks, [], cols), progress=False)


PARTIAL = """
def predict(rows):
    out = []
    for r in rows:
        p = min(0.97, max(0.03, r["score"]))
        label = "yes" if p >= 0.5 else "no"
        if r["n"] % 10 == 0:  # every tenth answer comes without probabilities
            out.append({"label": label})
        else:
            out.append({"label": label, "probabilities": {"yes": p, "no": 1 - p}})
    return out
predict.task = "classification"
"""


def test_rows_without_probabilities_are_counted_and_skipped(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    score = rng.random(n)
    pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "n": np.arange(n),
            "score": score,
            "label": np.where(rng.random(n) < score, "yes", "no"),
        }
    ).to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "pm.py").write_text(PARTIAL)
    suite = {
        "name": "partial",
        "data": {"path": "test.csv", "id": "id", "input": ["n", "score"], "label": "label"},
        "models": {"candidate": "python:pm.py:predict"},
        "trust": True,
        "checks": {"uncertainty": {}},
        "gates": ["uncertainty.skipped.no_probabilities <= 0"],
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    report = assay.evaluate(tmp_path / "suite.yaml", progress=False)
    r = report.result("uncertainty")
    assert r.metrics["skipped.no_probabilities"].value == 40
    assert any("40 of 400 rows had no probabilities" in f for f in r.flags)
    assert r.tables["split"]["n_calibration"] + r.tables["split"]["n_test"] == 360
    assert not report.passed  # the gate on skipped rows sees them


def test_regression_conformal_intervals_and_quantile_without_quantiles(tmp_path):
    X, y = make_regression(n_samples=600, n_features=4, noise=5.0, random_state=0)
    cols = [f"x{i}" for i in range(4)]
    frame = pd.DataFrame(X, columns=cols)
    frame.insert(0, "id", [f"r{i}" for i in range(600)])
    frame["y"] = y
    joblib.dump(LinearRegression().fit(X[:200], y[:200]), tmp_path / "reg.joblib")
    frame[200:].to_csv(tmp_path / "test.csv", index=False)

    def run(conformal: dict[str, Any]):
        suite = {
            "name": "reg",
            "task": "regression",
            "data": {"path": "test.csv", "id": "id", "input": cols, "label": "y"},
            "models": {"candidate": "sklearn:reg.joblib"},
            "trust": True,
            "checks": {"uncertainty": {"conformal": conformal}},
        }
        (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
        return assay.evaluate(tmp_path / "suite.yaml", progress=False)

    r = run({"alpha": 0.1}).result("uncertainty")
    cov = r.metrics["conformal.coverage"]
    assert cov.n == 280 and cov.lower <= 0.9 <= cov.upper
    assert r.metrics["conformal.size"].value > 0
    with pytest.raises(ConfigError, match="'quantile' needs a predicted lower and upper quantile"):
        run({"alpha": 0.1, "method": "quantile"})


def test_operating_point_needs_one_target(tmp_path):
    _frame, _model, cols = _binary(tmp_path)
    checks = {"uncertainty": {"operating_points": {"specificity": 0.9, "sensitivity": 0.9}}}
    with pytest.raises(ConfigError, match="exactly one of specificity"):
        assay.evaluate(_suite(tmp_path, checks, [], cols), progress=False)


def test_library_and_check_agree_on_aps(tmp_path):
    frame, model, cols = _binary(tmp_path)
    checks = {"uncertainty": {"calibration_dataset": "cal", "conformal": {"alpha": 0.2}}}
    r = assay.evaluate(_suite(tmp_path, checks, [], cols), progress=False).result("uncertainty")
    cal, test = frame[300:600], frame[600:]
    lib = conformal_classification(
        model.predict_proba(cal[cols]),
        (cal["label"] == "pos").to_numpy().astype(int),
        model.predict_proba(test[cols]),
        (test["label"] == "pos").to_numpy().astype(int),
        alpha=0.2,
        method="aps",
    )
    assert r.metrics["conformal.coverage"] == lib.coverage


def test_compare_puts_both_models_at_the_same_operating_point(tmp_path):
    """The candidate and the production model, each thresholded on the same calibration rows to
    hold specificity 0.9, compared pair by pair on the same test rows; each side equals the
    uncertainty check's own operating point for that model."""
    frame, model, cols = _binary(tmp_path)
    prod = make_pipeline(
        ColumnTransformer([("keep", "passthrough", cols[:2])]), LogisticRegression(max_iter=500)
    ).fit(frame[cols][:300], frame["label"][:300])
    joblib.dump(prod, tmp_path / "prod.joblib")
    checks = {
        "uncertainty": {"calibration_split": 0.5, "operating_points": {"specificity": 0.9}},
        "compare": {},
    }
    p = _suite(
        tmp_path,
        checks,
        ["compare.operating_point.sensitivity.diff.lower >= -1"],
        cols,
        models={"candidate": "sklearn:model.joblib", "baseline": "sklearn:prod.joblib"},
    )
    report = assay.evaluate(p, progress=False)
    comp = report.result("compare")
    table = comp.tables["operating_point"]
    for name in ("candidate", "baseline"):
        own = report.result("uncertainty", name).metrics
        assert table["models"][name]["sensitivity"]["value"] == pytest.approx(
            own["operating_point.sensitivity"].value
        )
        assert table["models"][name]["threshold"] == pytest.approx(
            own["operating_point.threshold"].value
        )
    test = frame[600:].reset_index(drop=True)
    perm = stream(0, "uncertainty", "*", "split").permutation(len(test))
    cal = np.zeros(len(test), dtype=bool)
    cal[perm[:150]] = True
    pos = (test["label"] == "pos").to_numpy()
    hits = []
    for est in (model, prod):
        s = est.predict_proba(test[cols])[:, 1]
        fpr, tpr, thr = roc_curve(pos[cal], s[cal], drop_intermediate=False)
        ok = 1 - fpr >= 0.9
        t = thr[ok][np.argmax(tpr[ok])]
        hits.append(s[~cal & pos] >= t)
    diff = comp.metrics["operating_point.sensitivity.diff"]
    assert diff.value == pytest.approx(hits[0].mean() - hits[1].mean())
    assert diff.method == "newcombe-paired" and diff.lower < diff.value < diff.upper
    assert table["differences"]["specificity"]["n"] == int((~cal & ~pos).sum())
    assert report.gates[0].passed


def test_compare_html_shows_the_operating_point(tmp_path):
    frame, _model, cols = _binary(tmp_path)
    prod = make_pipeline(
        ColumnTransformer([("keep", "passthrough", cols[:2])]), LogisticRegression(max_iter=500)
    ).fit(frame[cols][:300], frame["label"][:300])
    joblib.dump(prod, tmp_path / "prod.joblib")
    checks = {"uncertainty": {"operating_points": {"sensitivity": 0.9}}, "compare": {}}
    models = {"candidate": "sklearn:model.joblib", "baseline": "sklearn:prod.joblib"}
    report = assay.evaluate(_suite(tmp_path, checks, [], cols, models=models), progress=False)
    html = render_html(report)
    assert "At the same operating point" in html
    d = report.result("compare").metrics["operating_point.specificity.diff"]
    assert f"{d.value:+.3f}".replace("-", "−") in html or f"{d.value:.3f}" in html


@pytest.mark.slow
def test_llm_classifier_label_likelihoods_are_its_probabilities(tmp_path):
    """A causal LM scored as a classifier by label log-likelihood (``hf:`` with a verbaliser):
    its label probabilities feed the check like any classifier's."""
    pytest.importorskip("transformers")
    from assay.models import load_model
    from lm_fixtures import tiny_gpt2, write_rows

    folder = tiny_gpt2(tmp_path / "g")
    rng = np.random.default_rng(0)
    words = ["good", "bad", "great", "awful", "fun", "dull"]
    rows = []
    for i in range(80):
        w = words[int(rng.integers(len(words)))]
        rows.append(
            (f"t{i}", f"the film is {w}", "pos" if w in ("good", "great", "fun") else "neg")
        )
    write_rows(tmp_path / "test.csv", rows)
    opts = {"verbaliser": {"pos": "good", "neg": "bad"}, "prompt": "review : {input} :"}
    suite = {
        "name": "llm",
        "data": {
            "path": "test.csv",
            "id": "id",
            "input": "text",
            "label": "label",
            "labels": ["neg", "pos"],
        },
        "models": {"candidate": {"spec": f"hf:{folder}", "options": opts}},
        "checks": {
            "uncertainty": {"calibration_split": 0.5, "conformal": {"alpha": 0.2, "method": "lac"}}
        },
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    r = assay.evaluate(tmp_path / "suite.yaml", progress=False).result("uncertainty")
    assert r.metrics["skipped.no_probabilities"].value == 0
    # the same numbers from the model's own probabilities and the check's split
    m = load_model(f"hf:{folder}", options=opts)
    outs = m.predict([t for _, t, _ in rows])
    proba = np.array([[o.probabilities["neg"], o.probabilities["pos"]] for o in outs])
    y = np.array([1 if lbl == "pos" else 0 for *_, lbl in rows])
    perm = stream(0, "uncertainty", "*", "split").permutation(80)
    cal = np.zeros(80, dtype=bool)
    cal[perm[:40]] = True
    lib = conformal_classification(
        proba[cal], y[cal], proba[~cal], y[~cal], alpha=0.2, method="lac"
    )
    assert r.metrics["conformal.coverage"].value == pytest.approx(lib.coverage.value)
    assert r.metrics["conformal.size"].value == pytest.approx(lib.size.value)


def test_a_split_that_leaves_a_side_empty_is_a_clear_error(tmp_path):
    _frame, _model, cols = _binary(tmp_path)
    checks = {"uncertainty": {"calibration_split": 0.001, "conformal": None}}
    with pytest.raises(ConfigError, match=r"leaves 0 calibration and 300 test rows"):
        assay.evaluate(_suite(tmp_path, checks, [], cols), progress=False)


LABELS_ONLY = """
def predict(rows):
    return [{"label": "pos" if r["x0"] > 0 else "neg"} for r in rows]
predict.task = "classification"
"""


def test_compare_says_when_it_cannot_compare_at_the_operating_point(tmp_path):
    _frame, _model, cols = _binary(tmp_path)
    (tmp_path / "lab.py").write_text(LABELS_ONLY)
    checks = {"uncertainty": {"operating_points": {"specificity": 0.9}}, "compare": {}}
    models = {"candidate": "sklearn:model.joblib", "baseline": "python:lab.py:predict"}
    report = assay.evaluate(_suite(tmp_path, checks, [], cols, models=models), progress=False)
    comp = report.result("compare")
    assert "operating_point.sensitivity.diff" not in comp.metrics
    assert any("no comparison at the operating point" in f for f in comp.flags)
    base = report.result("uncertainty", "baseline")
    assert any("gave no class probabilities" in f for f in base.flags)
    # the report renders a result that has no split (the HTML failed on it before)
    assert "uncertainty · baseline · test**\n" in render_markdown(report)
    assert "gave no class probabilities" in render_html(report)
