"""Paired macro one-vs-rest ROC AUC: values, standard error, verdicts, and the run/report paths."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
import yaml
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import assay
from assay._runner import compare_reports
from assay.compare import CompareOptions, PairedPredictions, compare_paired
from assay.compare._auc import paired_macro_ovr_auc
from assay.errors import ConfigError
from assay.stats._paired_tests import paired_delong

LABELS = ["a", "b", "c"]


def _scores(y: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    logits = rng.normal(0, 1, (len(y), 3))
    logits[np.arange(len(y)), y] += strength
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _planted(cand: float, base: float, *, n: int, seed: int) -> PairedPredictions:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    shared = rng.normal(0, 1, (n, 3))  # both models see the same hard examples
    pc = _scores(y, cand, rng) * 0.5 + 0.5 * _scores(y, 0, rng)
    pb = _scores(y, base, rng) * 0.5 + 0.5 * _scores(y, 0, rng)
    pc, pb = pc * np.exp(0.3 * shared), pb * np.exp(0.3 * shared)
    pc, pb = pc / pc.sum(1, keepdims=True), pb / pb.sum(1, keepdims=True)
    lab = np.array(LABELS)
    return PairedPredictions(
        "classification",
        [f"id{i}" for i in range(n)],
        lab[y],
        lab[pc.argmax(1)],
        lab[pb.argmax(1)],
        list(LABELS),
        candidate_proba=pc,
        baseline_proba=pb,
        proba_labels=tuple(LABELS),
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_values_match_sklearn_and_two_columns_match_paired_delong(seed: int) -> None:
    p = _planted(1.5, 1.0, n=300, seed=seed)
    y = np.searchsorted(LABELS, p.y_true)
    r = paired_macro_ovr_auc(y, p.candidate_proba, p.baseline_proba)
    assert r.first == pytest.approx(
        roc_auc_score(y, p.candidate_proba, multi_class="ovr"), abs=1e-12
    )
    assert r.second == pytest.approx(
        roc_auc_score(y, p.baseline_proba, multi_class="ovr"), abs=1e-12
    )
    assert r.classes == 3
    # Two classes: the macro of (c0 vs rest, c1 vs rest) is the binary AUC; the paired influence
    # variance must be DeLong's variance of correlated AUCs exactly.
    rng = np.random.default_rng(seed)
    yb = rng.integers(0, 2, 200)
    sa, sb = rng.random(200) + 0.6 * yb, rng.random(200) + 0.3 * yb
    two = paired_macro_ovr_auc(yb, np.c_[1 - sa, sa], np.c_[1 - sb, sb])
    ref = paired_delong(yb, sa, sb)
    assert two.difference.value == pytest.approx(ref.difference.value, abs=1e-12)
    assert two.difference.lower == pytest.approx(ref.difference.lower, abs=1e-12)
    assert two.p_value == pytest.approx(ref.test.p_value, rel=1e-9)


def test_standard_error_matches_a_paired_row_bootstrap() -> None:
    p = _planted(1.2, 0.9, n=240, seed=3)
    y = np.searchsorted(LABELS, p.y_true)
    assert p.candidate_proba is not None and p.baseline_proba is not None
    r = paired_macro_ovr_auc(y, p.candidate_proba, p.baseline_proba)
    rng = np.random.default_rng(11)
    diffs = []
    for _ in range(300):
        i = rng.integers(0, len(y), len(y))
        diffs.append(
            roc_auc_score(y[i], p.candidate_proba[i], multi_class="ovr")
            - roc_auc_score(y[i], p.baseline_proba[i], multi_class="ovr")
        )
    boot_se = float(np.std(diffs, ddof=1))
    # 300 resamples estimate a standard error to about ±8%; DeLong and the bootstrap agree to ~10%.
    assert r.se == pytest.approx(boot_se, rel=0.2)
    # The paired standard error is well below the unpaired one (the models share hard examples).
    _, psi_a = _psi(y, p.candidate_proba)
    _, psi_b = _psi(y, p.baseline_proba)
    assert r.se < np.sqrt(psi_a @ psi_a + psi_b @ psi_b)


def _psi(y: np.ndarray, proba: np.ndarray) -> tuple[float, np.ndarray]:
    from assay.compare._auc import macro_ovr_auc_influence

    macro, psi, _ = macro_ovr_auc_influence(y, proba, proba.shape[1])
    return macro, psi


def test_planted_improvement_is_better_and_planted_regression_is_worse() -> None:
    opts = CompareOptions(metrics=["roc_auc_ovr_macro"], default_margin=0.01)
    better = compare_paired(_planted(2.0, 1.0, n=1500, seed=5), opts)
    row = better.metrics[0]
    assert row.metric == "roc_auc_ovr_macro" and row.status == "better"
    assert better.verdict == "go" and row.difference.lower > 0
    worse = compare_paired(_planted(1.0, 2.0, n=1500, seed=6), opts)
    assert worse.metrics[0].status == "worse" and worse.verdict == "no-go"
    # The default metrics of a multiclass comparison with probabilities include it.
    assert "roc_auc_ovr_macro" in [
        m.metric for m in compare_paired(_planted(1, 1, n=90, seed=7)).metrics
    ]


def test_refused_without_class_scores() -> None:
    p = _planted(1.0, 1.0, n=60, seed=8)
    bare = PairedPredictions("classification", p.ids, p.y_true, p.candidate, p.baseline, p.labels)
    with pytest.raises(ConfigError, match="roc_auc_ovr_macro needs both models' class"):
        compare_paired(bare, CompareOptions(metrics=["roc_auc_ovr_macro"]))
    with pytest.raises(ConfigError, match="compare roc_auc_ovr_macro"):
        compare_paired(p, CompareOptions(metrics=["roc_auc"]))


def test_in_suite_and_from_reports(tmp_path: Path) -> None:
    frame = load_wine(as_frame=True).frame
    features = [c for c in frame.columns if c != "target"]
    train, test = train_test_split(frame, test_size=0.5, random_state=0, stratify=frame["target"])
    strong = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    weak = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    joblib.dump(strong.fit(train[features], train["target"]), tmp_path / "strong.joblib")
    joblib.dump(weak.fit(train[["ash", "magnesium"]], train["target"]), tmp_path / "weak.joblib")
    test.assign(id=[f"r{i}" for i in test.index]).to_csv(tmp_path / "test.csv", index=False)
    suite = {
        "name": "wine",
        "data": {"path": "test.csv", "id": "id", "input": features, "label": "target"},
        "models": ["sklearn:strong.joblib", "sklearn:weak.joblib"],
        "trust": True,
        "checks": {"performance": {}, "compare": {"default_margin": 0.01}},
        "engine": {"cache": None, "progress": False},
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    report = assay.evaluate(tmp_path / "suite.yaml", out=tmp_path / "out", progress=False)
    table = report.result("compare", "candidate").tables["comparison"]
    rows = {m["metric"]: m for m in table["metrics"]}
    y = test["target"].to_numpy()
    ref = roc_auc_score(y, strong.predict_proba(test[features]), multi_class="ovr") - roc_auc_score(
        y, weak.predict_proba(test[["ash", "magnesium"]]), multi_class="ovr"
    )
    got = rows["roc_auc_ovr_macro"]["difference"]
    assert got["value"] == pytest.approx(ref, abs=1e-6)
    assert got["lower"] > 0 and rows["roc_auc_ovr_macro"]["status"] == "better"
    per = report.result("performance", "candidate").tables["per_example"]
    assert per["proba_labels"] == ["0", "1", "2"] and len(per["proba"]) == len(test)
    again = compare_reports(
        tmp_path / "out" / "report.json",
        tmp_path / "out" / "report.json",
        CompareOptions(default_margin=0.01),
        candidate_model="candidate",
        baseline_model="baseline",
    )
    row = next(m for m in again.metrics if m.metric == "roc_auc_ovr_macro")
    assert row.difference.value == pytest.approx(ref, abs=1e-6)
    assert row.difference.lower == pytest.approx(got["lower"], abs=1e-6)
