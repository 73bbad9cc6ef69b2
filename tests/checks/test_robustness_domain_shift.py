"""The domain_shift check against a literal computation on a tabular data set."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import assay
from assay._runner import load_suite
from assay.errors import ConfigError
from assay.stats import proportion_difference


def test_domain_and_period_gaps_match_newcombe(tmp_path: Path) -> None:
    data = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    feats = ["mean_radius", "mean_texture"]
    rng = np.random.default_rng(0)
    data["site"] = rng.choice(["a", "b", "c"], size=len(data))
    data["when"] = rng.choice(["2020-03-01", "2021-06-01", "2022-01-15"], size=len(data))
    data["id"] = [f"p{i}" for i in range(len(data))]
    model = LogisticRegression(max_iter=1000).fit(data[feats], data["target"])
    joblib.dump(model, tmp_path / "m.joblib")
    data.to_csv(tmp_path / "t.csv", index=False)
    suite = {
        "data": {
            "path": "t.csv",
            "id": "id",
            "input": feats,
            "label": "target",
            "domain": "site",
            "time": "when",
        },
        "models": {"candidate": "sklearn:m.joblib"},
        "trust": True,
        "checks": {"domain_shift": {"seen": ["a"], "min_n": 10}},
        "engine": {"progress": False},
        "gates": ["domain_shift.gap.lower >= -1"],
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(suite))
    r = assay.evaluate(tmp_path / "s.yaml", write=False, progress=False).result("domain_shift")
    right = model.predict(data[feats]) == data["target"].to_numpy()
    seen = (data["site"] == "a").to_numpy()
    want = proportion_difference(
        int(right[~seen].sum()), int((~seen).sum()), int(right[seen].sum()), int(seen.sum())
    )
    assert r.metrics["gap"] == want
    b = (data["site"] == "b").to_numpy()
    assert r.metrics["domain.b.accuracy"].value == pytest.approx(right[b].mean(), abs=1e-12)
    assert r.metrics["domain.b.gap"].value == pytest.approx(
        right[b].mean() - right[seen].mean(), abs=1e-12
    )
    y21 = data["when"].str.startswith("2021").to_numpy()
    y20 = data["when"].str.startswith("2020").to_numpy()
    assert r.metrics["period.2021.gap"].value == pytest.approx(
        right[y21].mean() - right[y20].mean(), abs=1e-12
    )


def test_no_domain_or_time_column_is_an_error(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1, 2], "y": [0, 1]}).to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "s.yaml").write_text(
        yaml.safe_dump(
            {
                "data": {"path": "t.csv", "input": ["x"], "label": "y"},
                "models": {"c": "python:m:f"},
                "checks": {"domain_shift": {}},
            }
        )
    )
    with pytest.raises(ConfigError, match="no domain or time column"):
        load_suite(tmp_path / "s.yaml")
