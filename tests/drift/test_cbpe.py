"""CBPE: calibration against scikit-learn, estimates against literal definitions, intervals by
simulation, realised performance joined by id, and bad input."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata
from sklearn.isotonic import IsotonicRegression

from assay.drift import estimate_performance
from assay.drift._cbpe import (
    ESTIMATED_METRICS,
    bootstrap_calibrations,
    expected_metrics,
    fit_calibration,
)
from assay.errors import ConfigError, DataError

METRICS = ESTIMATED_METRICS


def _frame(rng: np.random.Generator, n: int, *, power: float = 1.0) -> pd.DataFrame:
    """Scores whose chance of a positive label is ``score ** power`` (1.0: calibrated)."""
    p = rng.beta(2.0, 2.0, n)
    y = (rng.random(n) < p**power).astype(int)
    return pd.DataFrame({"id": np.arange(n), "p": p, "y": y, "pred": (p >= 0.5).astype(int)})


def _literal_estimates(q: np.ndarray, score: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The definitions, one row and one pair at a time (slow, for small n)."""
    tp = sum(qi for qi, pi in zip(q, pred, strict=True) if pi)
    fp = sum(1 - qi for qi, pi in zip(q, pred, strict=True) if pi)
    fn = sum(qi for qi, pi in zip(q, pred, strict=True) if not pi)
    tn = sum(1 - qi for qi, pi in zip(q, pred, strict=True) if not pi)
    # Expected AUC: every (i, j) pair with i ranked above j counts q_i (1 - q_j); ties and each
    # row with itself count one half, as the expected ROC curve's diagonal steps do.
    num = 0.0
    for i in range(len(q)):
        for j in range(len(q)):
            if score[i] > score[j]:
                num += q[i] * (1 - q[j])
            elif score[i] == score[j]:
                num += 0.5 * q[i] * (1 - q[j])
    return {
        "accuracy": (tp + tn) / len(q),
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "f1": 2 * tp / (2 * tp + fp + fn),
        "roc_auc": num / (q.sum() * (1 - q).sum()),
    }


def test_isotonic_calibration_equals_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Rounded scores: many ties, as a real model's scores have.
    scores = np.round(rng.beta(2, 2, 5000), 2)
    y = (rng.random(5000) < scores**2).astype(np.float64)
    cal = fit_calibration(scores, y, calibration="isotonic")
    oracle = IsotonicRegression(out_of_bounds="clip").fit(scores, y)
    new = np.r_[rng.random(2000) * 1.2 - 0.1, scores[:100]]
    np.testing.assert_allclose(cal.apply(new), oracle.predict(new), rtol=0, atol=1e-12)


def test_auto_calibrates_when_the_cross_validated_error_drops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.random(20000)
    bent = fit_calibration(scores, (rng.random(20000) < scores**3).astype(float), seed=seed)
    assert bent.method == "isotonic"
    assert bent.ece_after < bent.ece_before
    # The rule itself: calibrate exactly when held-out ECE drops (calibrated scores: a coin toss).
    for s in range(5):
        scores = np.round(rng.random(3000), 1)
        cal = fit_calibration(scores, (rng.random(3000) < scores).astype(float), seed=s)
        assert (cal.method == "isotonic") == (cal.ece_after < cal.ece_before)
    never = fit_calibration(scores, (scores > 0.5).astype(float), calibration="none")
    assert never.method == "none"
    assert np.array_equal(never.apply(scores), scores)


def test_estimates_equal_the_literal_definitions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.random(3000)
    cal = fit_calibration(ref, (rng.random(3000) < ref**2).astype(float), calibration="isotonic")
    score = np.round(rng.random(300), 2)  # ties within the window
    pred = score >= 0.4
    got = expected_metrics(score, pred, cal, np.empty((0, len(cal.x))))
    want = _literal_estimates(cal.apply(score), score, pred)
    for m in METRICS:
        assert got[m].value == pytest.approx(want[m], abs=1e-12), m
        assert got[m].calibration_variance == 0.0


def _realised_numpy(y: np.ndarray, score: np.ndarray, pred: np.ndarray) -> list[float]:
    tp = np.sum(y & pred)
    fp = np.sum(~y & pred)
    fn = np.sum(y & ~pred)
    n_pos = y.sum()
    ranks = rankdata(score)
    auc = (ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y) - n_pos))
    return [
        float(np.mean(y == pred)),
        tp / (tp + fp),
        tp / (tp + fn),
        2 * tp / (2 * tp + fp + fn),
        float(auc),
    ]


@pytest.mark.simulation
def test_label_variance_matches_simulated_labels(seed: int) -> None:
    """The delta-method sd equals the sd of the realised metric when labels are drawn from q."""
    rng = np.random.default_rng(seed)
    ref = rng.random(5000)
    cal = fit_calibration(ref, (rng.random(5000) < ref).astype(float), calibration="isotonic")
    score = rng.beta(2, 3, 2000)
    pred = score >= 0.5
    got = expected_metrics(score, pred, cal, np.empty((0, len(cal.x))))
    q = cal.apply(score)
    sims = np.array([_realised_numpy(rng.random(len(q)) < q, score, pred) for _ in range(1500)])
    for i, m in enumerate(METRICS):
        assert sims[:, i].mean() == pytest.approx(got[m].value, abs=0.2 * sims[:, i].std()), m
        assert math.sqrt(got[m].label_variance) == pytest.approx(sims[:, i].std(), rel=0.1), m


def test_bootstrap_refits_measure_the_calibration_error(seed: int) -> None:
    """A small reference leaves the map uncertain: the refits' spread is larger than with a big one."""
    rng = np.random.default_rng(seed)
    score = rng.random(2000)
    pred = score >= 0.5
    spread = []
    for n in (500, 20000):
        ref = rng.random(n)
        y = (rng.random(n) < ref).astype(float)
        cal = fit_calibration(ref, y, calibration="isotonic")
        refits = bootstrap_calibrations(ref, y, cal, n_bootstrap=60, rng=rng)
        assert refits.shape == (60, len(cal.x))
        got = expected_metrics(score, pred, cal, refits)
        spread.append(got["accuracy"].calibration_variance)
    assert spread[0] > 4 * spread[1] > 0


@pytest.mark.simulation
def test_realised_falls_inside_the_interval_at_the_nominal_rate(seed: int) -> None:
    """No concept drift, a covariate shift: realised inside the 95% interval about 95% of the time."""
    rng = np.random.default_rng(seed)
    reference = _frame(rng, 4000, power=2.0)
    # The current data scores higher on average (covariate shift), P(y | score) is unchanged.
    p = rng.beta(3.0, 2.0, 60 * 500)
    current = pd.DataFrame({"p": p, "y": (rng.random(len(p)) < p**2).astype(int)})
    current["pred"] = (current.p >= 0.5).astype(int)
    est = estimate_performance(
        reference, current, y_true="y", y_pred_proba="p", y_pred="pred", window=500, seed=seed
    )
    inside = np.array(
        [[w.estimated[m].contains(w.realised[m].value) for m in METRICS] for w in est.windows]
    )
    assert len(est.windows) == 60
    rate = inside.mean()
    assert 0.90 <= rate <= 0.995, rate
    assert est.n_alerts == sum(1 for row in inside if not row.all())


def test_concept_drift_is_flagged_when_labels_arrive(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = _frame(rng, 5000)
    same = _frame(rng, 3000)
    # The same scores now mean less: positives are rarer at every score (concept drift).
    drifted = _frame(rng, 3000, power=3.0)
    current = pd.concat([same, drifted], ignore_index=True)
    est = estimate_performance(
        reference, current, y_true="y", y_pred_proba="p", y_pred="pred", window=3000, seed=seed
    )
    first, second = est.windows
    # Without drift the realised value is near the estimate (inside twice the 95% half-width:
    # the interval itself misses 5% of the time, by design); with drift it is far outside.
    for m in ("accuracy", "precision"):
        e, r = first.estimated[m], first.realised[m].value
        assert abs(r - e.value) < e.upper - e.lower, m
    assert "precision" in second.disagree
    assert second.alert
    assert second.realised["precision"].value < second.estimated["precision"].lower


def test_labels_joined_by_id_equal_labels_in_the_table(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = _frame(rng, 3000)
    current = _frame(rng, 2000)
    current["id"] += 10_000
    arrived = current.sample(frac=0.6, random_state=seed)[["id", "y"]]  # shuffled, 60% arrived
    without = current.drop(columns="y")
    joined = estimate_performance(
        reference,
        without,
        y_true="y",
        y_pred_proba="p",
        y_pred="pred",
        window=1000,
        labels=arrived,
        id_column="id",
        seed=seed,
    )
    direct = current.copy()
    direct.loc[~direct.id.isin(arrived.id), "y"] = np.nan
    inline = estimate_performance(
        reference, direct, y_true="y", y_pred_proba="p", y_pred="pred", window=1000, seed=seed
    )
    assert [w.n_labelled for w in joined.windows] == [
        int(direct.y.iloc[i : i + 1000].notna().sum()) for i in (0, 1000)
    ]
    assert sum(w.n_labelled for w in joined.windows) == len(arrived)
    for a, b in zip(joined.windows, inline.windows, strict=True):
        assert a.realised == b.realised
        assert a.estimated == b.estimated
    # No labels at all: estimates only.
    blind = estimate_performance(
        reference, without, y_true="y", y_pred_proba="p", y_pred="pred", window=1000, seed=seed
    )
    assert all(w.realised == {} and w.n_labelled == 0 and not w.alert for w in blind.windows)
    assert blind.windows[0].estimated == joined.windows[0].estimated


def test_rows_without_a_score_are_counted_not_estimated(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = _frame(rng, 2000)
    current = _frame(rng, 1000)
    current.loc[[3, 10, 900], "p"] = np.nan
    current.loc[11, "p"] = np.inf
    current.loc[12, "pred"] = None
    est = estimate_performance(
        reference, current, y_true="y", y_pred_proba="p", y_pred="pred", window=500, seed=seed
    )
    assert [w.n_unscored for w in est.windows] == [4, 1]
    assert [w.estimated["accuracy"].n for w in est.windows] == [496, 499]
    assert [w.n_labelled for w in est.windows] == [496, 499]


def test_threshold_time_windows_and_json(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = _frame(rng, 2000)
    current = _frame(rng, 900).drop(columns="pred")
    current["when"] = pd.date_range("2024-01-01", periods=900, freq="h")
    est = estimate_performance(
        reference.drop(columns="pred"),
        current,
        y_true="y",
        y_pred_proba="p",
        window="7D",
        time_column="when",
        threshold=0.6,
        metrics=["accuracy", "roc_auc"],
        n_bootstrap=0,
        seed=seed,
    )
    assert next(w.label for w in est.windows) == "2024-01-01 .. 2024-01-08"
    assert sum(w.n for w in est.windows) == 900
    first = current.iloc[: 7 * 24]
    assert est.windows[0].realised["accuracy"].value == pytest.approx(
        np.mean((first.p >= 0.6).astype(int) == first.y)
    )
    doc = json.loads(json.dumps(est.to_dict()))
    assert doc["metrics"] == ["accuracy", "roc_auc"]
    assert doc["assumptions"][0].startswith("no concept drift")
    assert doc["calibration"]["requested"] == "auto"
    assert set(est.to_frame().columns) >= {"window", "metric", "estimated", "realised", "alert"}


def test_string_labels_need_a_positive_label(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = _frame(rng, 2000)
    reference["y"] = np.where(reference.y == 1, "employed", "not employed")
    reference["pred"] = np.where(reference.pred == 1, "employed", "not employed")
    with pytest.raises(ConfigError, match="positive_label="):
        estimate_performance(reference, reference, y_true="y", y_pred_proba="p", y_pred="pred")
    est = estimate_performance(
        reference,
        reference,
        y_true="y",
        y_pred_proba="p",
        y_pred="pred",
        positive_label="employed",
        seed=seed,
    )
    assert est.positive_label == "employed"
    assert est.windows[0].realised["accuracy"].value == pytest.approx(
        est.reference["accuracy"].value
    )


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda r, c: (r.drop(columns="y"), c), DataError, "y_true column 'y' is not in the ref"),
        (lambda r, c: (r, c.drop(columns="p")), DataError, "y_pred_proba column 'p' is not in"),
        (lambda r, c: (r, c.assign(p=c.p * 3)), DataError, r"outside \[0, 1\]"),
        (lambda r, c: (r, c.assign(p="x")), DataError, "not numbers"),
        (lambda r, c: (r.assign(y=1), c), DataError, "1 classes"),
        (lambda r, c: (r.assign(y=r.y.where(r.index != 4)), c), DataError, "reference row 5"),
    ],
)
def test_bad_input_names_what_and_where(change, error, match, seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, current = change(_frame(rng, 500), _frame(rng, 200))
    with pytest.raises(error, match=match):
        estimate_performance(reference, current, y_true="y", y_pred_proba="p", y_pred="pred")


def test_bad_options_and_label_tables(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, current = _frame(rng, 500), _frame(rng, 200)
    kw: dict[str, Any] = {"y_true": "y", "y_pred_proba": "p", "y_pred": "pred"}
    with pytest.raises(ConfigError, match="choose from accuracy"):
        estimate_performance(reference, current, metrics=["auc"], **kw)
    with pytest.raises(ConfigError, match="calibration must be one of"):
        estimate_performance(reference, current, calibration="platt", **kw)
    with pytest.raises(ConfigError, match="time_column="):
        estimate_performance(reference, current, window="7D", **kw)
    with pytest.raises(DataError, match="without id_column"):
        estimate_performance(reference, current, labels=current[["id", "y"]], **kw)
    twice = pd.concat([current[["id", "y"]], current[["id", "y"]].iloc[:1]])
    with pytest.raises(DataError, match="appears more than once in the labels"):
        estimate_performance(reference, current, labels=twice, id_column="id", **kw)
