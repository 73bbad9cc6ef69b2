"""Multiclass CBPE: per-class calibration against scikit-learn, estimates against literal
definitions, the multinomial delta method and the intervals by simulation, realised against
estimated on scikit-learn's digits, and bad input."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata
from sklearn.datasets import load_digits
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from assay.drift import MULTICLASS_METRICS, estimate_performance
from assay.drift._cbpe_multiclass import (
    bootstrap_multiclass_calibrations,
    expected_multiclass_metrics,
    fit_multiclass_calibration,
)
from assay.errors import ConfigError, DataError

METRICS = MULTICLASS_METRICS
CLASSES = ["a", "b", "c"]
PROBA = {c: f"p_{c}" for c in CLASSES}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _draw(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One class per row from the row's probabilities."""
    return (rng.random(len(p))[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(0, p.shape[1] - 1)


def _frame(
    rng: np.random.Generator, n: int, *, centre: float = 0.0, temperature: float = 1.0
) -> pd.DataFrame:
    """Rows whose true class probabilities are ``softmax(z)``; the model scores
    ``softmax(temperature · z)`` (1.0: calibrated). ``centre`` moves class a's logits (a
    covariate shift: the class given the logits does not change)."""
    z = rng.normal(0.0, 1.5, (n, 3))
    z[:, 0] += centre
    y = _draw(rng, _softmax(z))
    s = _softmax(temperature * z)
    frame = pd.DataFrame({PROBA[c]: s[:, i] for i, c in enumerate(CLASSES)})
    frame["y"] = np.array(CLASSES)[y]
    frame["pred"] = np.array(CLASSES)[s.argmax(axis=1)]
    frame["id"] = np.arange(n)
    return frame


def _matrix(frame: pd.DataFrame) -> np.ndarray:
    return frame[[PROBA[c] for c in CLASSES]].to_numpy()


def _codes(values: pd.Series) -> np.ndarray:
    return values.map({c: i for i, c in enumerate(CLASSES)}).to_numpy()


def _literal(q: np.ndarray, raw: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The definitions, one row and one pair at a time (slow, for small n)."""
    n, k = q.shape
    prec, rec, f1, auc = [], [], [], []
    for c in range(k):
        tp = sum(q[i, c] for i in range(n) if pred[i] == c)
        fp = sum(1 - q[i, c] for i in range(n) if pred[i] == c)
        fn = sum(q[i, c] for i in range(n) if pred[i] != c)
        prec.append(tp / (tp + fp) if tp + fp > 0 else math.nan)
        rec.append(tp / (tp + fn))
        f1.append(2 * tp / (2 * tp + fp + fn))
        num = 0.0
        for i in range(n):
            for j in range(n):
                if raw[i, c] > raw[j, c]:
                    num += q[i, c] * (1 - q[j, c])
                elif raw[i, c] == raw[j, c]:
                    num += 0.5 * q[i, c] * (1 - q[j, c])
        auc.append(num / (q[:, c].sum() * (1 - q[:, c]).sum()))
    return {
        "accuracy": sum(q[i, pred[i]] for i in range(n)) / n,
        "precision_macro": float(np.nanmean(prec)),
        "recall_macro": float(np.mean(rec)),
        "f1_macro": float(np.mean(f1)),
        "roc_auc_ovr_macro": float(np.mean(auc)),
    }


def _realised(y: np.ndarray, raw: np.ndarray, pred: np.ndarray) -> list[float]:
    """Realised accuracy, macro precision / recall / F1 (over defined classes), OvR macro AUC."""
    k = raw.shape[1]
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(float)
    tp, t, p = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec, rec, f1 = tp / p, tp / t, 2 * tp / (t + p)
    aucs = []
    for c in range(k):
        pos = y == c
        ranks = rankdata(raw[:, c])
        m = pos.sum()
        aucs.append((ranks[pos].sum() - m * (m + 1) / 2) / (m * (len(y) - m)))
    return [
        float(tp.sum() / len(y)),
        float(np.nanmean(prec)),
        float(np.nanmean(rec)),
        float(np.nanmean(f1)),
        float(np.mean(aucs)),
    ]


def test_calibration_is_per_class_isotonic_then_renormalised(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = _frame(rng, 4000, temperature=2.0)
    raw = np.round(_matrix(ref), 2)  # ties, as real scores have
    codes = _codes(ref.y)
    cal = fit_multiclass_calibration(raw, codes, CLASSES, calibration="isotonic")
    new = np.round(_matrix(_frame(rng, 500, temperature=2.0)), 3)
    oracle = np.column_stack(
        [
            IsotonicRegression(out_of_bounds="clip").fit(raw[:, c], codes == c).predict(new[:, c])
            for c in range(3)
        ]
    )
    oracle /= oracle.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(cal.apply(new), oracle, rtol=0, atol=1e-12)
    assert cal.method == "isotonic"
    assert [c.method for c in cal.per_class] == ["isotonic"] * 3
    none = fit_multiclass_calibration(raw, codes, CLASSES, calibration="none")
    np.testing.assert_allclose(none.apply(new), new / new.sum(axis=1, keepdims=True))
    # A row whose calibrated values are all 0 gets 1/k each (as NannyML does).
    assert none.apply(np.zeros((1, 3))).tolist() == [[1 / 3, 1 / 3, 1 / 3]]


def test_estimates_equal_the_literal_definitions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = _frame(rng, 3000, temperature=1.5)
    cal = fit_multiclass_calibration(_matrix(ref), _codes(ref.y), CLASSES, calibration="isotonic")
    window = _frame(rng, 200, temperature=1.5)
    raw = np.round(_matrix(window), 2)  # ties within the window
    pred = raw.argmax(axis=1)
    refits = [None, None, None]
    got = expected_multiclass_metrics(raw, pred, cal, refits)
    want = _literal(cal.apply(raw), raw, pred)
    for m in METRICS:
        assert got[m].value == pytest.approx(want[m], abs=1e-12), m
        assert got[m].calibration_variance == 0.0
    # A class nobody is predicted: its precision is undefined and left out of the macro mean.
    pred[pred == 2] = 1
    got = expected_multiclass_metrics(raw, pred, cal, refits)
    want = _literal(cal.apply(raw), raw, pred)
    for m in METRICS:
        assert got[m].value == pytest.approx(want[m], abs=1e-12), m


@pytest.mark.simulation
def test_label_variance_matches_simulated_labels(seed: int) -> None:
    """The multinomial delta-method sd equals the sd of the realised metric when each row's
    class is drawn from its calibrated probabilities."""
    rng = np.random.default_rng(seed)
    ref = _frame(rng, 6000)
    cal = fit_multiclass_calibration(_matrix(ref), _codes(ref.y), CLASSES, calibration="isotonic")
    window = _frame(rng, 1500, centre=0.7)
    raw = _matrix(window)
    pred = raw.argmax(axis=1)
    got = expected_multiclass_metrics(raw, pred, cal, [None, None, None])
    q = cal.apply(raw)
    sims = np.array([_realised(_draw(rng, q), raw, pred) for _ in range(1200)])
    for i, m in enumerate(METRICS):
        sd = sims[:, i].std()
        assert sims[:, i].mean() == pytest.approx(got[m].value, abs=0.2 * sd), m
        assert math.sqrt(got[m].label_variance) == pytest.approx(sd, rel=0.1), m


def test_bootstrap_refits_measure_the_calibration_error(seed: int) -> None:
    rng = np.random.default_rng(seed)
    window = _frame(rng, 2000)
    raw, pred = _matrix(window), _matrix(window).argmax(axis=1)
    spread = []
    for n in (600, 30000):
        ref = _frame(rng, n)
        raw_ref, codes = _matrix(ref), _codes(ref.y)
        cal = fit_multiclass_calibration(raw_ref, codes, CLASSES, calibration="isotonic")
        refits = bootstrap_multiclass_calibrations(raw_ref, codes, cal, n_bootstrap=40, rng=rng)
        assert [r.shape for r in refits if r is not None] == [(40, len(c.x)) for c in cal.per_class]
        got = expected_multiclass_metrics(raw, pred, cal, refits)
        spread.append(got["f1_macro"].calibration_variance)
    assert spread[0] > 4 * spread[1] > 0


@pytest.mark.simulation
def test_realised_falls_inside_the_interval_at_the_nominal_rate(seed: int) -> None:
    """No concept drift, a covariate shift, overconfident scores: realised inside the 95%
    interval about 95% of the time, for every metric.

    Measured (seeds 0-5, 60 windows of 500 each): 0.91-0.96 over all metrics, 0.88-0.98 per
    metric. The shortfall from 95% is a bias, not a too-narrow spread: the per-class isotonic maps
    fitted on a finite reference are slightly optimistic out of sample (realised minus estimated
    accuracy -0.003 here with 20,000 reference rows, -0.012 with 6,000, where coverage falls to
    about 0.88), and the bootstrap of the maps measures their variance, not that bias.
    """
    rng = np.random.default_rng(seed)
    reference = _frame(rng, 20000, temperature=1.5)
    current = _frame(rng, 60 * 500, centre=0.8, temperature=1.5)
    est = estimate_performance(
        reference,
        current,
        y_true="y",
        y_pred_proba=PROBA,
        y_pred="pred",
        window=500,
        n_bootstrap=50,
        seed=seed,
    )
    inside = np.array(
        [[w.estimated[m].contains(w.realised[m].value) for m in METRICS] for w in est.windows]
    )
    assert len(est.windows) == 60
    per_metric = inside.mean(axis=0)
    assert all(0.85 <= r <= 1.0 for r in per_metric), dict(zip(METRICS, per_metric, strict=True))
    assert 0.88 <= inside.mean() <= 0.99, inside.mean()
    assert est.n_alerts == sum(1 for row in inside if not row.all())


def test_digits_realised_within_the_estimate_and_concept_drift_flagged(seed: int) -> None:
    """scikit-learn's digits: a logistic regression on every fourth pixel (accuracy about 0.63,
    so no metric sits at its ceiling), the reference its held-out rows, the current rows cut by
    how much ink a digit has (a covariate shift). Then the labels of four digits are swapped
    (concept drift): the realised metrics fall far below the estimate.

    Measured (seeds 0-5, 2 windows each): accuracy and the macro precision / recall / F1 always
    inside their 95% interval; the macro AUC outside it in 2 of 12 windows (by at most 1.1
    half-widths: 60 reference rows per class make ten coarse isotonic maps)."""
    digits = load_digits()
    x, y = digits.data[:, ::4], digits.target
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    train, ref_rows, cur_rows = order[:500], order[500:1100], order[1100:]
    model = LogisticRegression(max_iter=3000, C=0.01).fit(x[train], y[train])

    def frame(rows: np.ndarray) -> pd.DataFrame:
        proba = model.predict_proba(x[rows])
        out = pd.DataFrame(proba, columns=[f"p{c}" for c in range(10)])
        out["y"], out["pred"] = y[rows], proba.argmax(axis=1)
        out["ink"] = digits.data[rows].sum(axis=1)
        return out

    reference = frame(ref_rows)
    current = frame(cur_rows).sort_values("ink", ignore_index=True)  # light digits, then heavy
    half = len(current) // 2
    proba = {c: f"p{c}" for c in range(10)}
    est = estimate_performance(
        reference,
        current,
        y_true="y",
        y_pred_proba=proba,
        y_pred="pred",
        window=half + 1,
        seed=seed,
    )
    assert est.average == "macro" and est.classes == tuple(range(10))
    for w in est.windows:
        for m in METRICS:
            e, r = w.estimated[m], w.realised[m].value
            # Inside the interval, or (5% of the time by design) close to it.
            assert abs(r - e.value) < e.upper - e.lower, (w.label, m, e, r)
    swapped = current.copy()
    swapped["y"] = swapped.y.replace({3: 8, 8: 3, 1: 7, 7: 1})
    drifted = estimate_performance(
        reference, swapped, y_true="y", y_pred_proba=proba, y_pred="pred", seed=seed
    )
    (window,) = drifted.windows
    assert set(window.disagree) == set(METRICS)
    assert window.realised["accuracy"].value < window.estimated["accuracy"].lower - 0.1


def test_predictions_default_to_the_top_score_and_json(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, current = _frame(rng, 3000), _frame(rng, 1000)
    kw: dict[str, Any] = {"y_true": "y", "y_pred_proba": PROBA, "window": 500, "seed": seed}
    top = estimate_performance(reference, current, **kw)
    given = estimate_performance(reference, current, y_pred="pred", **kw)
    assert [w.estimated for w in top.windows] == [w.estimated for w in given.windows]
    assert top.windows[0].realised["accuracy"].value == pytest.approx(
        np.mean(current.y[:500] == current.pred[:500])
    )
    assert top.metrics == METRICS and top.positive_label is None
    doc = json.loads(json.dumps(top.to_dict()))
    assert doc["average"] == "macro" and doc["classes"] == CLASSES
    assert [c["class"] for c in doc["calibration"]["per_class"]] == CLASSES
    assert doc["windows"][0]["estimated"]["f1_macro"]["method"] == "cbpe"
    # Labels that arrive later, joined by id; rows without scores counted, not estimated.
    current.loc[[5, 600], "p_b"] = np.nan
    late = estimate_performance(
        reference,
        current.drop(columns="y"),
        labels=current[["id", "y"]].iloc[::2],
        id_column="id",
        metrics=["accuracy", "roc_auc_ovr_macro"],
        **kw,
    )
    assert [w.n_unscored for w in late.windows] == [1, 1]
    assert [w.n_labelled for w in late.windows] == [250, 249]  # row 601 is labelled, unscored
    assert list(late.windows[0].realised) == ["accuracy", "roc_auc_ovr_macro"]


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda r, c: (r.assign(y=r.y.replace("c", "d")), c), DataError, "label 'd' in row"),
        (lambda r, c: (r[r.y != "c"], c), DataError, "class 'c' is absent from the reference"),
        (lambda r, c: (r, c.assign(y="z")), DataError, "label 'z' in row 1 of the current"),
        (lambda r, c: (r, c.assign(pred="z")), DataError, "predicted label 'z' in row 1"),
        (lambda r, c: (r, c.drop(columns="p_b")), DataError, "y_pred_proba column 'p_b' is not"),
        (lambda r, c: (r, c.assign(p_a=2.0)), DataError, r"probability of class 'a'"),
        (lambda r, c: (r.assign(y=r.y.where(r.index != 7)), c), DataError, "reference row 8"),
    ],
)
def test_bad_input_names_what_and_where(change, error, match, seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, current = change(_frame(rng, 600), _frame(rng, 200))
    with pytest.raises(error, match=match):
        estimate_performance(reference, current, y_true="y", y_pred_proba=PROBA, y_pred="pred")


def test_bad_options(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, current = _frame(rng, 600), _frame(rng, 200)
    kw: dict[str, Any] = {"y_true": "y", "y_pred": "pred"}
    with pytest.raises(ConfigError, match="choose from accuracy, precision_macro"):
        estimate_performance(reference, current, y_pred_proba=PROBA, metrics=["f1"], **kw)
    with pytest.raises(ConfigError, match="positive_label is for a binary"):
        estimate_performance(reference, current, y_pred_proba=PROBA, positive_label="a", **kw)
    with pytest.raises(ConfigError, match="same column"):
        estimate_performance(reference, current, y_pred_proba={"a": "p_a", "b": "p_a"}, **kw)
    # One score column with three classes: the message says how to pass them.
    with pytest.raises(DataError, match=r"y_pred_proba=\{class: column\}"):
        estimate_performance(reference, current, y_pred_proba="p_a", **kw)
