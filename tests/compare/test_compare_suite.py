"""``models: [candidate, baseline]`` with the compare check, end to end on breast-cancer data."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import assay
from assay._runner import compare_reports
from assay.compare import CompareOptions
from assay.errors import ConfigError


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cmp")
    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    features = [c for c in frame.columns if c != "target"]
    train, test = train_test_split(frame, test_size=0.5, random_state=0, stratify=frame["target"])
    strong = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        train[features], train["target"]
    )
    # The "production" model: sees only two weak features.
    weak_cols = ["mean_symmetry", "mean_fractal_dimension"]
    weak = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        train[weak_cols], train["target"]
    )
    joblib.dump(strong, tmp / "strong.joblib")
    joblib.dump(weak, tmp / "weak.joblib")
    test.assign(id=[f"r{i}" for i in test.index]).to_csv(tmp / "test.csv", index=False)
    np.save(
        tmp / "acc.npy",
        np.array(
            [
                (strong.predict(test[features]) == test["target"]).mean(),
                (weak.predict(test[weak_cols]) == test["target"]).mean(),
            ]
        ),
    )
    suite = {
        "name": "cmp",
        "data": {"path": "test.csv", "id": "id", "input": features, "label": "target"},
        "models": ["sklearn:strong.joblib", "sklearn:weak.joblib"],
        "trust": True,
        "checks": {
            "performance": {"keep_predictions": 1000},
            "compare": {"margins": {"accuracy": 0.02}, "default_margin": 0.01},
        },
        "engine": {"cache": None, "progress": False},
        "gates": ["compare.accuracy.diff.lower >= -0.02"],
    }
    (tmp / "suite.yaml").write_text(yaml.safe_dump(suite))
    return tmp


def test_in_suite_comparison_and_its_section(suite_dir: Path) -> None:
    report = assay.evaluate(suite_dir / "suite.yaml", out=suite_dir / "out", progress=False)
    results = [r for r in report.results if r.check == "compare"]
    assert [r.model for r in results] == ["candidate"]  # the baseline gets no result
    c = results[0].tables["comparison"]
    assert c["baseline"] == "baseline" and c["verdict"] == "go"
    acc = np.load(suite_dir / "acc.npy")
    rows = {m["metric"]: m for m in c["metrics"]}
    assert rows["accuracy"]["difference"]["value"] == pytest.approx(acc[0] - acc[1], abs=1e-12)
    assert rows["accuracy"]["margin"] == 0.02 and rows["roc_auc"]["margin"] == 0.01
    assert report.passed and report.gates[0].gate.startswith("compare.accuracy.diff")
    per = report.result("performance", "candidate").tables["per_example"]
    assert len(per["id"]) == per["n_total"] == results[0].n and per["truncated"] is False
    html = (suite_dir / "out" / "report.html").read_text()
    assert 'id="check-compare"' in html and html.count('data-compare-verdict="go"') == 2
    # The same decision from the saved report, model against model.
    again = compare_reports(
        suite_dir / "out" / "report.json",
        suite_dir / "out" / "report.json",
        CompareOptions(margins={"accuracy": 0.02}, default_margin=0.01),
        candidate_model="candidate",
        baseline_model="baseline",
    )
    assert again.verdict == "go"
    assert again.metrics[0].difference.value == pytest.approx(acc[0] - acc[1], abs=1e-12)
    # the compare check's own stream of the report's seed: the suite's intervals, exactly
    assert {m.metric: m.difference.to_dict() for m in again.metrics} == {
        m: r["difference"] for m, r in rows.items()
    }


def test_compare_needs_two_models_and_a_known_baseline(suite_dir: Path) -> None:
    raw = yaml.safe_load((suite_dir / "suite.yaml").read_text())
    one = {**raw, "models": {"candidate": "sklearn:strong.joblib"}, "gates": []}
    (suite_dir / "one.yaml").write_text(yaml.safe_dump(one))
    with pytest.raises(ConfigError, match="checks.compare needs two models"):
        assay.load_suite(suite_dir / "one.yaml")
    bad = {**raw, "checks": {"compare": {"baseline": "prod"}}, "gates": []}
    (suite_dir / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="checks.compare.baseline: 'prod' is not a model"):
        assay.load_suite(suite_dir / "bad.yaml")
