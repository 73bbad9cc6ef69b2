"""Operating points per class (one-vs-rest) of a multiclass model: a scikit-learn classifier of
the digits bundled with scikit-learn through a suite file, each class's threshold and test-row
rates against ``roc_curve`` and statsmodels' Wilson interval on the same rows, the gate paths with
a wildcard over classes, the report's per-class table and the bad configurations."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from statsmodels.stats.proportion import proportion_confint

import assay
from assay.errors import ConfigError
from assay.report import render_html, render_markdown, render_model_card
from assay.report._console_pillars import PILLARS

COLS = [f"p{i}" for i in range(64)]


@pytest.fixture(scope="module")
def digits() -> tuple[pd.DataFrame, LogisticRegression]:
    """1,797 digits: a model fitted on the first 600, calibration rows 600–1199, test rows the
    rest."""
    X, y = load_digits(return_X_y=True)
    frame = pd.DataFrame(X / 16.0, columns=COLS)
    frame.insert(0, "id", [f"d{i}" for i in range(len(y))])
    frame["label"] = y
    frame["half"] = np.where(np.arange(len(y)) % 2 == 0, "even", "odd")
    model = LogisticRegression(max_iter=2000).fit(frame[COLS][:600], frame["label"][:600])
    return frame, model


def _suite(
    tmp: Path,
    digits: tuple[pd.DataFrame, LogisticRegression],
    points: dict[str, Any],
    gates: list[str],
    *,
    cal_rows: pd.DataFrame | None = None,
) -> Path:
    frame, model = digits
    joblib.dump(model, tmp / "model.joblib")
    (frame[600:1200] if cal_rows is None else cal_rows).to_csv(tmp / "cal.csv", index=False)
    frame[1200:].to_csv(tmp / "test.csv", index=False)
    spec = {"id": "id", "input": COLS, "label": "label", "labels": list(range(10))}
    suite = {
        "name": "digits",
        "seed": 0,
        "data": {
            "test": {"path": "test.csv", **spec, "groups": ["half"]},
            "cal": {"path": "cal.csv", **spec},
        },
        "models": {"candidate": "sklearn:model.joblib"},
        "trust": True,
        "checks": {
            "uncertainty": {
                "calibration_dataset": "cal",
                "conformal": {"alpha": 0.1, "method": "lac"},
                "operating_points": points,
            }
        },
        "gates": gates,
    }
    p = tmp / "suite.yaml"
    p.write_text(yaml.safe_dump(suite, sort_keys=False))
    return p


def test_every_class_gets_the_roc_curve_threshold_and_its_test_rates(tmp_path, digits):
    frame, model = digits
    gates = [
        "uncertainty.operating_point.*.sensitivity.lower >= 0.5",
        "uncertainty.operating_point.3.specificity.value >= 0.9",
    ]
    report = assay.evaluate(
        _suite(tmp_path, digits, {"specificity": 0.95, "per_class": True}, gates),
        progress=False,
    )
    r = report.result("uncertainty")
    assert r is not None
    cal, test = frame[600:1200], frame[1200:]
    p_cal, p_test = model.predict_proba(cal[COLS]), model.predict_proba(test[COLS])
    y_cal, y_test = cal["label"].to_numpy(), test["label"].to_numpy()
    for k in range(10):
        # the threshold: the most sensitive point of roc_curve whose specificity is >= 0.95,
        # class k against the rest, on the calibration rows
        fpr, tpr, thr = roc_curve(y_cal == k, p_cal[:, k], drop_intermediate=False)
        ok = 1 - fpr >= 0.95
        t = thr[ok][np.argmax(tpr[ok])]
        assert r.metrics[f"operating_point.{k}.threshold"].value == pytest.approx(t, abs=1e-12)
        pos, pred = y_test == k, p_test[:, k] >= t
        sens = r.metrics[f"operating_point.{k}.sensitivity"]
        spec = r.metrics[f"operating_point.{k}.specificity"]
        prec = r.metrics[f"operating_point.{k}.precision"]
        assert sens.value == pytest.approx(pred[pos].mean(), abs=1e-12)
        assert spec.value == pytest.approx((~pred[~pos]).mean(), abs=1e-12)
        assert prec.value == pytest.approx(pos[pred].mean(), abs=1e-12)
        assert sens.n == pos.sum() and spec.n == (~pos).sum()
        lo, hi = proportion_confint(int(pred[pos].sum()), int(pos.sum()), method="wilson")
        assert (sens.lower, sens.upper) == pytest.approx((lo, hi), abs=1e-9)
        # the calibration rows hold the specificity asked for
        row = r.tables["operating_point_per_class"]["classes"][k]
        assert row["label"] == str(k) and row["calibration"]["specificity"] >= 0.95
    # no binary paths on a per-class result
    assert "operating_point.sensitivity" not in r.metrics
    # the wildcard gate matched every class, the named one its class
    wild, named = report.gates
    assert wild.passed and len(wild.matches) == 10, wild.detail
    assert named.passed and named.observed == r.metrics["operating_point.3.specificity"].value
    # the report shows the per-class table with each class's gate path
    html = render_html(report)
    assert "Operating point per class" in html
    assert "uncertainty.operating_point.7" in html
    md = render_markdown(report)
    assert "Operating point per class" in md and "`uncertainty.operating_point.7.*`" in md
    s7 = r.metrics["operating_point.7.sensitivity"]
    assert f"{s7.value:.3f}".rstrip("0") in md
    assert "Operating point per class" in render_model_card(report)
    # the console names the class with the lowest sensitivity
    line = dict((name, fn) for _, name, fn in PILLARS)["uncertainty"](r)
    worst = min(range(10), key=lambda k: r.metrics[f"operating_point.{k}.sensitivity"].value)
    assert line is not None and f"(class {worst}) at specificity 0.95 per class" in line


def test_a_multiclass_model_without_per_class_is_told_to_add_it(tmp_path, digits):
    with pytest.raises(ConfigError, match=r"10 labels.*add per_class: true"):
        assay.evaluate(_suite(tmp_path, digits, {"specificity": 0.95}, []), progress=False)


def test_per_class_with_positive_label_is_refused(tmp_path, digits):
    points = {"specificity": 0.95, "per_class": True, "positive_label": 3}
    with pytest.raises(ConfigError, match="per_class .* positive_label .* give one of them"):
        assay.evaluate(_suite(tmp_path, digits, points, []), progress=False)


def test_a_gate_on_a_per_class_path_without_per_class_names_the_valid_paths(tmp_path, digits):
    gates = ["uncertainty.operating_point.*.sensitivity.lower >= 0.5"]
    with pytest.raises(ConfigError, match=r"no metric uncertainty\.operating_point\.\*\.sens"):
        assay.evaluate(_suite(tmp_path, digits, {"specificity": 0.95}, gates), progress=False)


def test_a_class_missing_from_the_calibration_rows_is_undefined_and_fails_its_gate(
    tmp_path, digits
):
    frame, _ = digits
    cal = frame[600:1200]
    gates = ["uncertainty.operating_point.*.sensitivity.lower >= 0.1"]
    report = assay.evaluate(
        _suite(
            tmp_path,
            digits,
            {"sensitivity": 0.9, "per_class": True},
            gates,
            cal_rows=cal[cal["label"] != 9],
        ),
        progress=False,
    )
    r = report.result("uncertainty")
    assert r is not None
    assert math.isnan(r.metrics["operating_point.9.sensitivity"].value)
    assert r.metrics["operating_point.0.sensitivity"].defined
    assert any("no operating point for class 9" in f for f in r.flags)
    (gate,) = report.gates
    assert not gate.passed and "operating_point.9.sensitivity" in gate.detail
    assert "no operating point" in render_html(report)


def test_per_class_on_a_binary_model_gives_both_classes(tmp_path, digits):
    frame, _ = digits
    two = frame[frame["label"].isin([3, 8])]
    model = LogisticRegression(max_iter=2000).fit(two[COLS][:100], two["label"][:100])
    joblib.dump(model, tmp_path / "model.joblib")
    two[100:250].to_csv(tmp_path / "cal.csv", index=False)
    two[250:].to_csv(tmp_path / "test.csv", index=False)
    spec = {"id": "id", "input": COLS, "label": "label", "labels": [3, 8]}
    suite = {
        "name": "two",
        "seed": 0,
        "data": {"test": {"path": "test.csv", **spec}, "cal": {"path": "cal.csv", **spec}},
        "models": {"candidate": "sklearn:model.joblib"},
        "trust": True,
        "checks": {
            "uncertainty": {
                "calibration_dataset": "cal",
                "conformal": None,
                "operating_points": {"specificity": 0.9, "per_class": True},
            }
        },
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    r = assay.evaluate(tmp_path / "suite.yaml", progress=False).result("uncertainty")
    assert r is not None
    assert {"operating_point.3.sensitivity", "operating_point.8.sensitivity"} <= set(r.metrics)
    p_cal = model.predict_proba(two[100:250][COLS])[:, 0]
    fpr, tpr, thr = roc_curve(two[100:250]["label"] == 3, p_cal, drop_intermediate=False)
    ok = 1 - fpr >= 0.9
    t = thr[ok][np.argmax(tpr[ok])]
    assert r.metrics["operating_point.3.threshold"].value == pytest.approx(t, abs=1e-12)


def test_compare_says_it_cannot_compare_per_class_points(tmp_path, digits):
    frame, _ = digits
    prod = LogisticRegression(max_iter=2000).fit(frame[COLS][:200], frame["label"][:200])
    joblib.dump(prod, tmp_path / "prod.joblib")
    p = _suite(tmp_path, digits, {"specificity": 0.95, "per_class": True}, [])
    suite = yaml.safe_load(p.read_text())
    suite["models"] = {"candidate": "sklearn:model.joblib", "baseline": "sklearn:prod.joblib"}
    suite["checks"]["compare"] = {}
    p.write_text(yaml.safe_dump(suite, sort_keys=False))
    report = assay.evaluate(p, progress=False)
    comp = report.result("compare")
    assert comp is not None and not any(k.startswith("operating_point") for k in comp.metrics)
    assert any("no comparison at the operating point" in f for f in comp.flags)
    # each model still gets its own points from the uncertainty check
    for model in ("candidate", "baseline"):
        r = report.result("uncertainty", model=model)
        assert r is not None and "operating_point.0.sensitivity" in r.metrics
