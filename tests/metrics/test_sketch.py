"""``ClassificationSketch``: the streamed, mergeable classification summary, against
``classification_summary`` (same keys, identical count metrics), scikit-learn and real data."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from assay.errors import MetricError
from assay.metrics import ClassificationSketch, ClassificationSummary, classification_summary
from assay.metrics._calibration import ece
from assay.stats import delong_auc, hashed_block_codes
from assay.stats._delong import binned_delong, logit_auc_bounds

STATE = ("cm", "block_n", "block_sums", "block_ece_n", "hist", "block_ap")


def synthetic(
    rng: np.random.Generator, n: int, k: int, shift: float = 1.0
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    t = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), t] += shift
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    return t, proba.argmax(axis=1), proba


def sketch_of(
    t: NDArray[np.intp],
    p: NDArray[np.intp],
    proba: NDArray[np.float64] | None,
    *,
    chunks: int = 1,
    seed: int = 0,
    **kw: Any,
) -> ClassificationSketch:
    """Chunks reduced separately (as on workers), then merged in chunk order."""
    k = kw.pop("k", proba.shape[1] if proba is not None else int(max(t.max(), p.max())) + 1)
    opts = {"proba": proba is not None, "positive": 1 if k == 2 else None, **kw}
    out = ClassificationSketch(k, **opts)
    for rows in np.array_split(np.arange(len(t)), chunks):
        part = ClassificationSketch(k, **opts)
        part.add(
            t[rows],
            p[rows],
            blocks=hashed_block_codes(rows, part.n_blocks, seed=seed),
            proba=None if proba is None else proba[rows],
        )
        out.merge(part)
    return out


def names(k: int) -> list[str]:
    return [f"c{i}" for i in range(k)]


def in_memory(t: Any, p: Any, proba: Any, k: int, seed: int, **kw: Any) -> ClassificationSummary:
    labs = np.array(names(k))
    return classification_summary(
        labs[t], labs[p], labels=list(labs), proba=proba, seed=seed, zero_division="nan", **kw
    )


# ---- against classification_summary -------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("with_proba", [True, False])
def test_same_keys_and_identical_count_metrics(k: int, with_proba: bool, seed: int) -> None:
    t, p, proba = synthetic(np.random.default_rng(seed), 3000, k)
    pr = proba if with_proba else None
    streamed = sketch_of(t, p, pr, chunks=3).summary(
        names(k), level=0.9, n_bootstrap=300, seed=seed
    )
    exact = in_memory(t, p, pr, k, seed, level=0.9, n_bootstrap=300)
    assert set(streamed.metrics) == set(exact.metrics)
    extra = {"binned_auc"} if with_proba else set()
    assert set(streamed.tables) == set(exact.tables) | extra
    assert streamed.n == exact.n == 3000
    assert streamed.tables["confusion_matrix"] == exact.tables["confusion_matrix"]
    # The count metrics (values and intervals) come from the same generator state: identical.
    counts = [key for key, e in exact.metrics.items() if e.method in ("wilson", "bootstrap-counts")]
    counts += [key for key in exact.metrics if key.startswith("per_class.")]
    assert "mcc" in counts and "per_class.c1.f1" in counts
    if k > 2 and with_proba:
        assert "top_k_accuracy" in counts  # a catalogued function metric, Wilson: exact too
    for key in counts:
        assert streamed.metrics[key] == exact.metrics[key], key
    if with_proba:
        for key in ("log_loss", "brier", "ece"):
            assert streamed.metrics[key].value == pytest.approx(exact.metrics[key].value, abs=1e-9)
        rel_s, rel_e = streamed.tables["reliability"], exact.tables["reliability"]
        assert rel_s["count"] == rel_e["count"]
        np.testing.assert_allclose(
            np.array(rel_s["mean_confidence"], dtype=np.float64),
            np.array(rel_e["mean_confidence"], dtype=np.float64),
            atol=1e-12,
        )
        for key in ("roc_curve", "pr_curve"):
            some = streamed.tables[key] if k == 2 else streamed.tables[key]["c1"]
            assert len(some["thresholds"]) <= 200


def test_probability_metrics_against_sklearn(seed: int) -> None:
    t, p, proba = synthetic(np.random.default_rng(seed), 20_000, 2, shift=1.5)
    s = sketch_of(t, p, proba, chunks=4).summary(names(2), level=0.95, n_bootstrap=200, seed=1)
    assert s.metrics["log_loss"].value == pytest.approx(log_loss(t, proba), abs=1e-9)
    assert s.metrics["brier"].value == pytest.approx(brier_score_loss(t, proba[:, 1]), abs=1e-9)
    assert s.metrics["ece"].value == pytest.approx(ece(proba, t, n_bins=10), abs=1e-9)
    auc = roc_auc_score(t, proba[:, 1])
    bound = s.tables["binned_auc"]["max_abs_error"]["roc_auc"]
    assert abs(s.metrics["roc_auc"].value - auc) <= bound < 1e-4
    assert s.metrics["roc_auc"].method == "delong-binned"
    # Average precision: each bin is one threshold; measured |diff| ~ 2e-5 with 65536 bins.
    ap = average_precision_score(t, proba[:, 1])
    assert s.metrics["average_precision"].value == pytest.approx(ap, abs=5e-4)
    for key in ("log_loss", "brier", "ece", "roc_auc", "average_precision"):
        e = s.metrics[key]
        assert e.lower <= e.value <= e.upper, key


def test_multiclass_probability_metrics_against_sklearn(seed: int) -> None:
    t, p, proba = synthetic(np.random.default_rng(seed), 20_000, 5)
    s = sketch_of(t, p, proba, chunks=2).summary(names(5), level=0.95, n_bootstrap=200, seed=1)
    assert s.metrics["log_loss"].value == pytest.approx(log_loss(t, proba), abs=1e-9)
    brier = ((proba - np.eye(5)[t]) ** 2).sum(axis=1).mean()
    assert s.metrics["brier"].value == pytest.approx(brier, abs=1e-9)
    bounds = s.tables["binned_auc"]["max_abs_error"]
    for multi in ("ovr", "ovo"):
        for avg in ("macro", "weighted"):
            key = f"roc_auc_{multi}_{avg}"
            exact = roc_auc_score(t, proba, multi_class=multi, average=avg)
            assert abs(s.metrics[key].value - exact) <= bounds[key] < 1e-3, key
            assert s.metrics[key].method == "delong-binned-conservative"
    ap = average_precision_score(np.eye(5)[t], proba, average="macro")
    assert s.metrics["average_precision_macro"].value == pytest.approx(ap, abs=1e-3)


def test_million_rows_auc_within_the_bound() -> None:
    rng = np.random.default_rng(7)
    n = 1_000_000
    t = (rng.random(n) < 0.3).astype(np.intp)
    score = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.2 * t - 0.8)))
    proba = np.column_stack([1.0 - score, score])
    s = sketch_of(t, (score > 0.5).astype(np.intp), proba, chunks=10).summary(
        names(2), level=0.95, n_bootstrap=100, seed=0
    )
    bound = s.tables["binned_auc"]["max_abs_error"]["roc_auc"]
    assert abs(s.metrics["roc_auc"].value - roc_auc_score(t, score)) <= bound < 5e-5


# ---- real data ----------------------------------------------------------------------------------


def fitted_proba(loader: Any) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    x, y = loader(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x[::2], y[::2])
    return y[1::2].astype(np.intp), model.predict_proba(x[1::2])


def test_breast_cancer_against_sklearn() -> None:
    t, proba = fitted_proba(load_breast_cancer)
    p = proba.argmax(axis=1)
    s = sketch_of(t, p, proba, chunks=3).summary(names(2), level=0.95, n_bootstrap=500, seed=0)
    bound = s.tables["binned_auc"]["max_abs_error"]["roc_auc"]
    auc = roc_auc_score(t, proba[:, 1])
    assert abs(s.metrics["roc_auc"].value - auc) <= bound <= 1e-4
    # With no bin shared by the two classes the binned DeLong is the exact one.
    exact = delong_auc(t, proba[:, 1])
    if bound == 0.0:
        assert s.metrics["roc_auc"].lower == pytest.approx(exact.lower, abs=1e-12)
        assert s.metrics["roc_auc"].upper == pytest.approx(exact.upper, abs=1e-12)
    ap = average_precision_score(t, proba[:, 1])
    assert s.metrics["average_precision"].value == pytest.approx(ap, abs=1e-3)
    assert s.metrics["log_loss"].value == pytest.approx(log_loss(t, proba), abs=1e-9)
    assert s.metrics["brier"].value == pytest.approx(brier_score_loss(t, proba[:, 1]), abs=1e-9)
    exact_summary = in_memory(t, p, proba, 2, 0, n_bootstrap=500)
    for key in ("accuracy", "f1", "mcc", "balanced_accuracy"):
        assert s.metrics[key] == exact_summary.metrics[key]


def test_digits_multiclass_auc_holds_sklearn() -> None:
    t, proba = fitted_proba(load_digits)
    p = proba.argmax(axis=1)
    s = sketch_of(t, p, proba, chunks=4).summary(names(10), level=0.95, n_bootstrap=300, seed=0)
    bounds = s.tables["binned_auc"]["max_abs_error"]
    for multi in ("ovr", "ovo"):
        for avg in ("macro", "weighted"):
            key = f"roc_auc_{multi}_{avg}"
            exact = roc_auc_score(t, proba, multi_class=multi, average=avg)
            e = s.metrics[key]
            assert abs(e.value - exact) <= bounds[key] < 1e-4, key
            assert e.lower <= exact <= e.upper, key
            # Conservative: at least as wide as the in-memory interval with the covariances.
            mem = in_memory(t, p, proba, 10, 0, n_bootstrap=0).metrics[key]
            assert e.upper - e.lower >= (mem.upper - mem.lower) * (1 - 1e-6), key
    ap = average_precision_score(np.eye(10)[t], proba, average="macro")
    assert s.metrics["average_precision_macro"].value == pytest.approx(ap, abs=1e-3)


@pytest.mark.simulation
def test_conservative_multiclass_interval_covers() -> None:
    # The population AUC of a fixed 3-class model, from 5e5 rows; 200 samples of 300 rows.
    rng = np.random.default_rng(3)
    big = synthetic(rng, 500_000, 3, shift=0.8)
    truth = {
        m: roc_auc_score(big[0], big[2], multi_class=m, average="macro") for m in ("ovr", "ovo")
    }
    hits = dict.fromkeys(truth, 0)
    reps = 200
    for _ in range(reps):
        t, p, proba = synthetic(rng, 300, 3, shift=0.8)
        s = sketch_of(t, p, proba).summary(names(3), level=0.95, n_bootstrap=0, seed=0)
        for m, value in truth.items():
            e = s.metrics[f"roc_auc_{m}_macro"]
            hits[m] += e.lower <= value <= e.upper
    for m in truth:
        assert hits[m] / reps >= 0.93, (m, hits[m])


# ---- merging, chunking, pickling, memory ------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3])
def test_ten_chunks_equal_one_chunk(k: int, seed: int) -> None:
    t, p, proba = synthetic(np.random.default_rng(seed), 5000, k)
    one = sketch_of(t, p, proba, chunks=1)
    ten = sketch_of(t, p, proba, chunks=10)
    for key in ("cm", "block_n", "block_ece_n", "hist", "block_ap"):
        assert np.array_equal(getattr(one, key), getattr(ten, key)), key
    np.testing.assert_allclose(one.block_sums, ten.block_sums, rtol=1e-13, atol=1e-13)
    # Adding the chunks in order to one sketch is bit for bit the same as merging a fresh sketch
    # per chunk in order (the local backend and the Ray driver agree exactly).
    seq = ClassificationSketch(k, proba=True, positive=1 if k == 2 else None)
    for rows in np.array_split(np.arange(len(t)), 10):
        blocks = hashed_block_codes(rows, seq.n_blocks, seed=0)
        seq.add(t[rows], p[rows], blocks=blocks, proba=proba[rows])
    for key in STATE:
        assert np.array_equal(getattr(seq, key), getattr(ten, key)), key
    a = one.summary(names(k), level=0.95, n_bootstrap=200, seed=4)
    b = ten.summary(names(k), level=0.95, n_bootstrap=200, seed=4)
    assert a.tables == b.tables or _close_tables(a.tables, b.tables)
    for key, e in a.metrics.items():
        f = b.metrics[key]
        assert e.method == f.method
        for x, y in ((e.value, f.value), (e.lower, f.lower), (e.upper, f.upper)):
            assert (math.isnan(x) and math.isnan(y)) or abs(x - y) <= 1e-12, key


def _close_tables(a: dict[str, Any], b: dict[str, Any]) -> bool:
    a_flat = np.array(_numbers(a), dtype=np.float64)
    b_flat = np.array(_numbers(b), dtype=np.float64)
    np.testing.assert_allclose(a_flat, b_flat, atol=1e-12)
    return True


def _numbers(x: Any) -> list[float]:
    if isinstance(x, dict):
        return [v for key in sorted(x) for v in _numbers(x[key])]
    if isinstance(x, list):
        return [v for item in x for v in _numbers(item)]
    if isinstance(x, (int, float)):
        return [float(x)]
    return [0.0 if x is None else 0.5]


def test_pickle_round_trip(seed: int) -> None:
    t, p, proba = synthetic(np.random.default_rng(seed), 2000, 3)
    sk = sketch_of(t, p, proba, chunks=2)
    back = pickle.loads(pickle.dumps(sk))
    for key in STATE:
        assert getattr(back, key).dtype == getattr(sk, key).dtype
        assert np.array_equal(getattr(back, key), getattr(sk, key)), key
    s1 = sk.summary(names(3), level=0.95, n_bootstrap=100, seed=2)
    s2 = back.summary(names(3), level=0.95, n_bootstrap=100, seed=2)
    assert s1.to_dict() == s2.to_dict()
    back.merge(sk)  # a round-tripped sketch merges with the original
    assert back.n == 2 * sk.n


def test_memory_does_not_grow_with_rows() -> None:
    rng = np.random.default_rng(0)
    sizes = {}
    for n in (10_000, 1_000_000):
        t, p, proba = synthetic(rng, n, 2)
        sk = sketch_of(t, p, proba)
        sizes[n] = (sk.nbytes, len(pickle.dumps(sk)))
    assert sizes[10_000][0] == sizes[1_000_000][0]
    assert sizes[1_000_000][1] <= 1.05 * sizes[10_000][1]


# ---- errors -------------------------------------------------------------------------------------


def test_merge_needs_the_same_options() -> None:
    a = ClassificationSketch(3, proba=True, positive=None)
    with pytest.raises(MetricError, match="same k"):
        a.merge(ClassificationSketch(3, proba=True, positive=None, n_bins=5))
    with pytest.raises(MetricError, match="same k"):
        a.merge(ClassificationSketch(4, proba=True, positive=None))


def test_bad_input_leaves_the_sketch_unchanged() -> None:
    sk = ClassificationSketch(2, proba=True, positive=1)
    blocks = hashed_block_codes(np.arange(3), sk.n_blocks, seed=0)
    proba = np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    with pytest.raises(MetricError, match="range"):
        sk.add(np.array([0, 1, 2]), np.array([0, 1, 1]), blocks=blocks, proba=proba)
    with pytest.raises(MetricError, match="proba is required"):
        sk.add(np.array([0, 1, 1]), np.array([0, 1, 1]), blocks=blocks)
    with pytest.raises(MetricError, match="shape"):
        sk.add(np.array([0, 1, 1]), np.array([0, 1, 1]), blocks=blocks, proba=proba[:, :1])
    assert sk.n == 0
    with pytest.raises(MetricError, match="no examples"):
        sk.summary(names(2), level=0.95, n_bootstrap=10, seed=0)
    with pytest.raises(MetricError, match="positive"):
        ClassificationSketch(3, proba=False, positive=1)


def test_single_class_auc_is_undefined() -> None:
    t = np.zeros(50, dtype=np.intp)
    proba = np.column_stack([np.full(50, 0.7), np.full(50, 0.3)])
    s = sketch_of(t, t, proba, k=2).summary(names(2), level=0.95, n_bootstrap=50, seed=0)
    assert math.isnan(s.metrics["roc_auc"].value)
    assert math.isnan(s.metrics["average_precision"].value)


def test_binned_delong_equals_delong_on_integer_scores(seed: int) -> None:
    # Scores that are the bin index: binning is the identity, so the binned DeLong is DeLong's.
    rng = np.random.default_rng(seed)
    y = rng.random(400) < 0.4
    score = rng.integers(0, 12, 400) + 3 * y
    pos = np.bincount(score[y], minlength=15)
    neg = np.bincount(score[~y], minlength=15)
    auc, var, bound = binned_delong(pos, neg)
    exact = delong_auc(y, score.astype(np.float64))
    assert auc == pytest.approx(exact.value, abs=1e-12)
    lo, hi = logit_auc_bounds(auc, var, 0.95)
    assert (lo, hi) == pytest.approx((exact.lower, exact.upper), abs=1e-12)
    assert bound == pytest.approx(0.5 * (pos * neg).sum() / (y.sum() * (~y).sum()))


def test_first_label_as_the_positive_class(seed: int) -> None:
    t, p, proba = synthetic(np.random.default_rng(seed), 4000, 2)
    sk = sketch_of(t, p, proba, positive=0)
    s = sk.summary(names(2), level=0.95, n_bootstrap=100, seed=seed)
    exact = in_memory(t, p, proba, 2, seed, n_bootstrap=100, positive_label="c0")
    for key in ("precision", "recall", "f1", "specificity", "mcc"):
        assert s.metrics[key] == exact.metrics[key], key
    bound = s.tables["binned_auc"]["max_abs_error"]["roc_auc"]
    assert abs(s.metrics["roc_auc"].value - roc_auc_score(t == 0, proba[:, 0])) <= bound
    ap = average_precision_score(t == 0, proba[:, 0])
    assert s.metrics["average_precision"].value == pytest.approx(ap, abs=1e-3)
    assert s.metrics["brier"].value == pytest.approx(brier_score_loss(t == 0, proba[:, 0]))
