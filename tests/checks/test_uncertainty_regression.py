"""The uncertainty check for regression end to end on scikit-learn's diabetes data: a
predictions file with a predicted spread (BayesianRidge's standard deviation), a python: model
answering quantiles (gradient boosting with the quantile loss), and sklearn: with return_std.
The conformal intervals equal MAPIE's on the same calibration and test rows; abstention by
spread equals a literal computation."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import BayesianRidge, LinearRegression

import assay
from assay._types import Output
from assay.errors import ConfigError
from assay.report import render_html, render_markdown

mapie_regression = pytest.importorskip("mapie.regression")

FIT, CAL, TEST = slice(0, 150), slice(150, 300), slice(300, None)

_QUANTILE_MODEL = """
import joblib
import numpy as np
import pandas as pd

_lo, _hi, _mid, _cols = joblib.load(__file__.replace("qmodel.py", "gbr.joblib"))


def predict(batch):
    X = pd.DataFrame([[p[c] for c in _cols] for p in batch], columns=_cols)
    # rearranged (sorted per row): separately fitted quantiles may cross
    lo, hi = np.sort(np.c_[_lo.predict(X), _hi.predict(X)], axis=1).T
    mid = _mid.predict(X)
    return [
        {"value": float(m), "quantiles": {0.05: float(a), 0.95: float(b)}}
        for m, a, b in zip(mid, lo, hi)
    ]
"""


def _diabetes(tmp: Path) -> tuple[pd.DataFrame, list[str]]:
    data = load_diabetes(as_frame=True)
    frame = data.frame.rename(columns={"target": "y"})
    cols = list(data.feature_names)
    frame.insert(0, "id", [f"p{i}" for i in range(len(frame))])
    frame["sex_group"] = np.where(frame["sex"] > 0, "a", "b")
    frame[CAL].to_csv(tmp / "cal.csv", index=False)
    frame[TEST].to_csv(tmp / "test.csv", index=False)
    return frame, cols


def _suite(tmp: Path, model: str, cols: list[str], checks: dict[str, Any], **extra: Any) -> Path:
    spec = {"id": "id", "input": cols, "label": "y"}
    suite = {
        "name": "diabetes",
        "seed": 0,
        "task": "regression",
        "data": {
            "test": {"path": "test.csv", **spec, "groups": ["sex_group"]},
            "cal": {"path": "cal.csv", **spec},
        },
        "models": {"candidate": model},
        "trust": True,
        "checks": {"uncertainty": {"calibration_dataset": "cal", **checks}},
        **extra,
    }
    p = tmp / "suite.yaml"
    p.write_text(yaml.safe_dump(suite, sort_keys=False))
    return p


def _bayesian_ridge_file(tmp: Path, frame: pd.DataFrame, cols: list[str]) -> BayesianRidge:
    br = BayesianRidge().fit(frame[cols][FIT], frame["y"][FIT])
    mean, std = br.predict(frame[cols], return_std=True)
    pd.DataFrame({"id": frame["id"], "value": mean, "spread": std}).to_csv(
        tmp / "preds.csv", index=False
    )
    return br


# MAPIE probes the estimator with unnamed rows; scikit-learn warns about feature names
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_spread_from_a_predictions_file_normalized_equals_mapie(tmp_path):
    from mapie.conformity_scores import ResidualNormalisedScore

    frame, cols = _diabetes(tmp_path)
    br = _bayesian_ridge_file(tmp_path, frame, cols)
    checks = {
        "coverage": [0.5, 0.9],
        "target_risk": 50.0,
        "conformal": {"alpha": 0.1, "method": "normalized"},
    }
    gates = [
        "uncertainty.selective.coverage_0.9.risk.upper <= 80",
        "uncertainty.conformal.coverage.lower >= 0.8",
        "uncertainty.conformal.width <= 1000",
        "uncertainty.conformal.groups.*.coverage.lower >= 0.7",
    ]
    path = _suite(tmp_path, "predictions:preds.csv", cols, checks, gates=gates)
    report = assay.evaluate(path, progress=False)
    r = report.result("uncertainty")

    class Std:
        fitted_ = True

        def fit(self, X, y):
            return self

        def predict(self, X):
            return br.predict(X, return_std=True)[1]

    X, y = frame[cols].to_numpy(), frame["y"].to_numpy()
    m = mapie_regression.SplitConformalRegressor(
        br,
        confidence_level=0.9,
        conformity_score=ResidualNormalisedScore(residual_estimator=Std(), prefit=True),
        prefit=True,
    ).conformalize(X[CAL], y[CAL])
    _, bounds = m.predict_interval(X[TEST])
    lo, hi = bounds[:, 0, 0], bounds[:, 1, 0]
    covered = (y[TEST] >= lo) & (y[TEST] <= hi)
    cov = r.metrics["conformal.coverage"]
    assert cov.n == len(y[TEST]) and cov.value == pytest.approx(covered.mean(), abs=1e-12)
    assert r.metrics["conformal.size"].value == pytest.approx(np.mean(hi - lo), rel=1e-9)
    assert r.metrics["conformal.width"] == r.metrics["conformal.size"]
    assert r.tables["conformal"]["method"] == "normalized"

    # abstention by spread: a literal computation of the mean absolute error kept
    mean, std = br.predict(X[TEST], return_std=True)
    err = np.abs(y[TEST] - mean)
    keep = np.argsort(std, kind="stable")[: math.ceil(0.5 * len(std))]
    assert r.metrics["selective.coverage_0.5.risk"].value == pytest.approx(err[keep].mean())
    assert r.tables["selective"]["risk"] == "absolute_error"
    assert "selective.coverage_0.5.accuracy" not in r.metrics
    assert r.metrics["skipped.no_spread"].value == 0
    # target risk: the largest calibration coverage whose mean error meets 50, measured on test
    cal_mean, cal_std = br.predict(X[CAL], return_std=True)
    cal_err = np.abs(y[CAL] - cal_mean)
    order = np.argsort(cal_std, kind="stable")
    ok = np.flatnonzero(np.cumsum(cal_err[order]) / np.arange(1, 151) <= 50)
    max_spread = cal_std[order][ok[-1]]
    kept = std <= max_spread
    assert r.metrics["selective.at_risk.coverage"].value == pytest.approx(kept.mean())
    assert r.metrics["selective.at_risk.risk"].value == pytest.approx(err[kept].mean())
    assert "selective.guaranteed.coverage" not in r.metrics
    assert {g["group"] for g in r.tables["conformal"]["groups"]} == {
        "sex_group:a",
        "sex_group:b",
    }
    assert report.passed, [g for g in report.gates if not g.passed]
    html, md = render_html(report), render_markdown(report)
    assert "Risk–coverage curve" in html and "mean width" in html
    assert "mean absolute error keeping 0.9" in md
    assert "conformal mean interval width" in md


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_quantiles_from_a_python_model_cqr_equals_mapie(tmp_path):
    frame, cols = _diabetes(tmp_path)
    X, y = frame[cols], frame["y"].to_numpy()
    lo, hi, mid = (
        GradientBoostingRegressor(
            loss="quantile", alpha=a, n_estimators=60, max_depth=2, random_state=0
        ).fit(X[FIT], y[FIT])
        for a in (0.05, 0.95, 0.5)
    )
    joblib.dump((lo, hi, mid, cols), tmp_path / "gbr.joblib")
    (tmp_path / "qmodel.py").write_text(_QUANTILE_MODEL)
    checks = {"coverage": [0.9], "conformal": {"alpha": 0.1, "method": "quantile"}}
    path = _suite(tmp_path, "python:qmodel.py:predict", cols, checks)
    r = assay.evaluate(path, progress=False).result("uncertainty")

    class Sorted:  # MAPIE gets the same rearranged quantiles the model answers
        fitted_ = True

        def __init__(self, side: int) -> None:
            self.side = side

        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.sort(np.c_[lo.predict(X), hi.predict(X)], axis=1)[:, self.side]

    c = mapie_regression.ConformalizedQuantileRegressor(
        [Sorted(0), Sorted(1), mid], confidence_level=0.9, prefit=True
    ).conformalize(X[CAL], y[CAL])
    _, bounds = c.predict_interval(X[TEST], symmetric_correction=True)
    blo, bhi = bounds[:, 0, 0], bounds[:, 1, 0]
    covered = (y[TEST] >= blo) & (y[TEST] <= bhi)
    assert r.metrics["conformal.coverage"].value == pytest.approx(covered.mean(), abs=1e-12)
    assert r.metrics["conformal.width"].value == pytest.approx(np.mean(bhi - blo), rel=1e-9)
    assert r.tables["conformal"]["quantile_levels"] == [0.05, 0.95]
    # without a spread, abstention ranks rows by the width of their quantile interval
    assert r.tables["selective"]["confidence"] == "-quantile_width"
    assert r.metrics["skipped.no_quantiles"].value == 0
    assert r.metrics["skipped.no_spread"].value == 0  # ranked by the quantile width instead


def test_sklearn_return_std_and_the_errors_kept(tmp_path):
    frame, cols = _diabetes(tmp_path)
    br = BayesianRidge().fit(frame[cols][FIT], frame["y"][FIT])
    joblib.dump(br, tmp_path / "br.joblib")
    checks = {"coverage": [0.8], "regression_risk": "squared_error"}
    path = _suite(tmp_path, "sklearn:br.joblib", cols, checks)
    raw = yaml.safe_load(path.read_text())
    raw["models"]["candidate"] = {"spec": "sklearn:br.joblib", "options": {"return_std": True}}
    path.write_text(yaml.safe_dump(raw))
    r = assay.evaluate(path, progress=False).result("uncertainty")
    mean, std = br.predict(frame[cols][TEST], return_std=True)
    err2 = (frame["y"][TEST].to_numpy() - mean) ** 2
    keep = np.argsort(std, kind="stable")[: math.ceil(0.8 * len(std))]
    assert r.metrics["selective.coverage_0.8.risk"].value == pytest.approx(err2[keep].mean())
    assert r.tables["selective"]["risk"] == "squared_error"

    joblib.dump(LinearRegression().fit(frame[cols][FIT], frame["y"][FIT]), tmp_path / "lr.joblib")
    raw["models"]["candidate"] = {"spec": "sklearn:lr.joblib", "options": {"return_std": True}}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(assay.errors.ModelError, match="takes no return_std"):
        assay.evaluate(path, progress=False)


def test_rows_without_a_spread_are_counted_and_normalized_without_any_is_refused(tmp_path):
    frame, cols = _diabetes(tmp_path)
    _bayesian_ridge_file(tmp_path, frame, cols)
    preds = pd.read_csv(tmp_path / "preds.csv")
    preds.loc[preds.index[::10], "spread"] = np.nan  # every tenth row has no spread
    preds.to_csv(tmp_path / "preds.csv", index=False)
    checks = {"conformal": {"alpha": 0.1, "method": "normalized"}}
    gates = ["uncertainty.skipped.no_spread <= 0"]
    report = assay.evaluate(
        _suite(tmp_path, "predictions:preds.csv", cols, checks, gates=gates), progress=False
    )
    r = report.result("uncertainty")
    n_missing = int(preds["spread"][150:].isna().sum())
    assert r.metrics["skipped.no_spread"].value == n_missing > 0
    assert r.metrics["conformal.coverage"].n == 142 - int(preds["spread"][300:].isna().sum())
    assert any("without spread are left out" in f for f in r.flags)
    assert not report.passed

    preds[["id", "value"]].to_csv(tmp_path / "preds.csv", index=False)
    with pytest.raises(ConfigError, match="'normalized' needs a predicted spread"):
        assay.evaluate(_suite(tmp_path, "predictions:preds.csv", cols, checks), progress=False)


@pytest.mark.parametrize(
    ("column", "cell", "message"),
    [
        ("spread", -1.0, "spread -1 must be a finite number ≥ 0"),
        ("spread", "wide", "spread 'wide' is not a number"),
        ("q_0.95", 1.0, "column 'q_0.95': 1 is below column 'q_0.05'"),
        ("q_0.95", np.nan, "column 'q_0.95' is empty"),
    ],
)
def test_bad_spread_or_quantile_cells_name_file_row_and_column(tmp_path, column, cell, message):
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "value": [1.0, 2.0, 3.0],
            "spread": [0.5, 0.5, 0.5],
            "q_0.05": [0.0, 1.5, 2.0],
            "q_0.95": [2.0, 2.5, 4.0],
        }
    ).astype({"spread": object, "q_0.95": object})
    frame.loc[1, column] = cell
    frame.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(assay.errors.ModelError) as err:
        assay.load_model("predictions:p.csv", base_dir=tmp_path)
    assert "p.csv row 2 (id 'b')" in str(err.value) and message in str(err.value)


def test_a_spread_and_quantiles_round_trip_through_the_cache_json():
    out = Output(value=1.5, spread=0.25, quantiles={0.05: 1.0, 0.95: 2.0})
    back = Output.from_dict(json.loads(json.dumps(out.to_dict())))
    assert back == out
    assert Output.from_dict(json.loads(json.dumps(Output(value=2.0).to_dict()))) == Output(
        value=2.0
    )


def test_a_target_no_spread_threshold_meets_refers_everything_with_a_flag(tmp_path):
    frame, cols = _diabetes(tmp_path)
    _bayesian_ridge_file(tmp_path, frame, cols)
    checks = {"target_risk": 1.0, "conformal": None}  # a mean absolute error of 1: out of reach
    r = assay.evaluate(
        _suite(tmp_path, "predictions:preds.csv", cols, checks), progress=False
    ).result("uncertainty")
    assert r.metrics["selective.at_risk.coverage"].value == 0
    assert r.metrics["selective.at_risk.referral_rate"].value == 1
    assert not r.metrics["selective.at_risk.risk"].defined
    assert any("every case would be referred" in f for f in r.flags)
