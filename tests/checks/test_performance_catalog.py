"""The performance check reports every catalogued metric its problem has, each with the catalogued
interval, and accepts gates on each (a metric added to the catalogue needs nothing here)."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from assay import evaluate
from assay._runner import suite_from_dict
from assay.checks._performance import PerformanceCheck, PerformanceConfig
from assay.checks._predictions import UNSCORED_REASONS
from assay.metrics import SUMMARY_SOURCES, metric_info, metrics_for


@pytest.mark.parametrize("n_classes", [2, 3])
def test_performance_reports_every_catalogued_metric_with_its_interval(
    tmp_path: Path, n_classes: int, seed: int
) -> None:
    frame = load_iris(as_frame=True).frame.rename(columns={"target": "y"})
    frame = frame[frame["y"] < n_classes].reset_index(drop=True)
    frame.columns = [c.replace(" ", "_").replace("(", "").replace(")", "") for c in frame.columns]
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    features = [c for c in frame.columns if c not in ("id", "y")][:2]  # a model that errs
    frame.to_csv(tmp_path / "test.csv", index=False)
    model = LogisticRegression(max_iter=500).fit(frame[features], frame["y"].astype(str))
    joblib.dump(model, tmp_path / "model.joblib")
    suite = suite_from_dict(
        {
            "data": {"path": "test.csv", "id": "id", "input": features, "label": "y"},
            "models": {"candidate": "sklearn:model.joblib"},
            "trust": True,
            "checks": {"performance": {"n_bootstrap": 200}},
            "engine": {"cache": str(tmp_path / "cache.db"), "progress": False},
        },
        base_dir=tmp_path,
    )
    r = evaluate(suite, write=False, progress=False, seed=seed).result("performance")
    assert r is not None
    want = {
        m.name
        for m in metrics_for(
            "classification", n_classes=n_classes, proba=True, sources=SUMMARY_SOURCES
        )
        if not (m.per_class and m.classes == "any")
    }
    scalars = {k for k in r.metrics if not k.startswith(("per_class.", "unscored."))}
    assert scalars == want
    # what could not be scored: counts, none here
    unscored = {k: e.value for k, e in r.metrics.items() if k.startswith("unscored.")}
    assert unscored == dict.fromkeys(["unscored." + k for k in UNSCORED_REASONS], 0.0)
    for name in scalars:
        est = r.metrics[name]
        assert est.method == metric_info(name).interval, name
        assert est.defined and est.lower <= est.upper, name
    gates = PerformanceCheck.gate_patterns(PerformanceConfig(), suite)
    assert want <= set(gates) and set(unscored) <= set(gates)
