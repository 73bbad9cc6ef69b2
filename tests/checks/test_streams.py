"""Each check, model and bootstrap draws from its own stream of the run's seed; runs repeat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
from assay.checks import RunContext, get_check
from assay.report import Report


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Breast cancer; the same fitted model under two names (identical predictions)."""
    tmp = tmp_path_factory.mktemp("streams")
    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    features = [c for c in frame.columns if c != "target"]
    train, test = train_test_split(frame, test_size=0.4, random_state=0, stratify=frame["target"])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.05))
    joblib.dump(model.fit(train[features], train["target"]), tmp / "model.joblib")
    test.assign(
        id=[f"p{i}" for i in test.index],
        size=np.where(test["mean_radius"] > 14, "large", "small"),
        texture=np.where(test["mean_texture"] > 19, "rough", "smooth"),
    ).to_csv(tmp / "test.csv", index=False)
    suite = {
        "name": "streams",
        "data": {"path": "test.csv", "id": "id", "input": features, "label": "target"},
        "models": {"candidate": "sklearn:model.joblib", "twin": "sklearn:model.joblib"},
        "trust": True,
        "checks": {"performance": {}, "slices": {"min_n": 20, "columns": ["size"]}},
        "engine": {"cache": None, "progress": False},
    }
    (tmp / "suite.yaml").write_text(yaml.safe_dump(suite))
    return tmp


def _numbers(report: Report) -> dict[str, dict[str, Any]]:
    return {
        f"{r.check}[{r.model}].{name}": est.to_dict()
        for r in report.results
        for name, est in r.metrics.items()
    }


def test_the_same_suite_and_seed_give_the_same_numbers(suite_dir: Path, tmp_path: Path) -> None:
    """Twice in this process, and once in another with another hash seed: every number equal."""
    first = _numbers(assay.evaluate(suite_dir / "suite.yaml", progress=False, write=False))
    again = _numbers(assay.evaluate(suite_dir / "suite.yaml", progress=False, write=False))
    code = (
        "import assay; assay.evaluate("
        f"{str(suite_dir / 'suite.yaml')!r}, out={str(tmp_path)!r}, progress=False)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "7", "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
    other = _numbers(Report.load(tmp_path / "report.json"))
    assert any(v["method"].startswith("bootstrap") for v in first.values())
    assert first == again
    # JSON round trip: compare what report.json holds
    assert json.loads(json.dumps(first)) == other


def test_two_models_get_different_streams(suite_dir: Path) -> None:
    """The same predictions under two names: equal points and analytic intervals (Wilson,
    DeLong), different bootstrap intervals — each model resamples with its own stream."""
    numbers = _numbers(assay.evaluate(suite_dir / "suite.yaml", progress=False, write=False))
    moved = 0
    for key, cand in numbers.items():
        if "[candidate]" not in key:
            continue
        twin = numbers[key.replace("[candidate]", "[twin]")]
        assert twin["value"] == cand["value"] and twin["method"] == cand["method"]
        if cand["method"].startswith("bootstrap"):
            moved += (twin["lower"], twin["upper"]) != (cand["lower"], cand["upper"])
        else:
            assert (twin["lower"], twin["upper"]) == (cand["lower"], cand["upper"]), key
    assert moved >= 2


def test_a_new_slice_does_not_move_the_others(suite_dir: Path) -> None:
    raw = yaml.safe_load((suite_dir / "suite.yaml").read_text())
    raw["checks"]["slices"]["columns"] = ["texture", "size"]
    (suite_dir / "more.yaml").write_text(yaml.safe_dump(raw))
    one = _numbers(assay.evaluate(suite_dir / "suite.yaml", progress=False, write=False))
    two = _numbers(assay.evaluate(suite_dir / "more.yaml", progress=False, write=False))
    size = {k: v for k, v in one.items() if k.startswith("slices[")}
    assert size and all(two[k] == v for k, v in size.items())
    assert any(k.startswith("slices[candidate].texture.") for k in two)


def test_another_seed_moves_only_the_bootstrap_intervals(suite_dir: Path) -> None:
    a = _numbers(assay.evaluate(suite_dir / "suite.yaml", progress=False, write=False))
    b = _numbers(assay.evaluate(suite_dir / "suite.yaml", seed=1, progress=False, write=False))
    assert {k: v["value"] for k, v in a.items()} == {k: v["value"] for k, v in b.items()}
    boot = [k for k, v in a.items() if v["method"].startswith("bootstrap")]
    assert any((a[k]["lower"], a[k]["upper"]) != (b[k]["lower"], b[k]["upper"]) for k in boot)


def test_check_streams_are_named_by_check_model_and_purpose(suite_dir: Path) -> None:
    suite = assay.load_suite(suite_dir / "suite.yaml")
    ctx = RunContext(suite=suite, datasets={}, models={}, model_infos={})

    def check(name: str, model: str) -> Any:
        cls = get_check(name)
        return cls(cls.Config(), model)

    def first(g: np.random.Generator) -> int:
        return int(g.integers(2**63))

    perf, slices = check("performance", "candidate"), check("slices", "candidate")
    twin = check("performance", "twin")
    draws = [
        first(perf.rng(ctx)),
        first(twin.rng(ctx)),
        first(slices.rng(ctx)),
        first(slices.rng(ctx, "size", "large")),
        first(slices.rng(ctx, "size", "small")),
        first(perf.rng(ctx, shared=True)),
    ]
    assert len(set(draws)) == len(draws)
    assert first(perf.rng(ctx)) == draws[0]  # a fresh generator at the start of its stream
    assert first(perf.rng(ctx, "rows", shared=True)) == first(twin.rng(ctx, "rows", shared=True))
    assert first(perf.rng(ctx)) == first(ctx.rng("performance", "candidate"))
