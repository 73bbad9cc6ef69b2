"""Invariance properties of the metrics (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.metrics import ConfusionCounts, classification_summary

LABELS = [0, 1, 2]


@st.composite
def data(draw):
    n = draw(st.integers(3, 40))
    y = draw(st.lists(st.sampled_from(LABELS), min_size=n, max_size=n))
    yp = draw(st.lists(st.sampled_from(LABELS), min_size=n, max_size=n))
    raw = draw(
        st.lists(
            st.lists(st.integers(1, 5), min_size=3, max_size=3), min_size=n, max_size=n
        )
    )
    proba = np.array(raw, dtype=float)
    proba /= proba.sum(axis=1, keepdims=True)
    perm = draw(st.permutations(range(n)))
    return np.array(y), np.array(yp), proba, np.array(perm)


def values(summary):
    return {k: v.value for k, v in summary.metrics.items()}


def same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert (math.isnan(a[key]) and math.isnan(b[key])) or abs(a[key] - b[key]) < 1e-12, key


@settings(max_examples=40, deadline=None)
@given(data())
def test_row_order_does_not_change_any_metric(d):
    y, yp, proba, perm = d
    kw = {"labels": LABELS, "proba": proba, "n_bootstrap": 0, "zero_division": "nan"}
    a = classification_summary(y, yp, **kw)
    kw["proba"] = proba[perm]
    b = classification_summary(y[perm], yp[perm], **kw)
    same(values(a), values(b))


@settings(max_examples=40, deadline=None)
@given(data(), st.integers(2, 4))
def test_repeating_the_data_keeps_point_values(d, times):
    y, yp, proba, _ = d
    kw = {"labels": LABELS, "n_bootstrap": 0, "zero_division": "nan"}
    a = classification_summary(y, yp, proba=proba, **kw)
    b = classification_summary(
        np.tile(y, times), np.tile(yp, times), proba=np.tile(proba, (times, 1)), **kw
    )
    va, vb = values(a), values(b)
    for key in va:
        if key.endswith(".support"):
            assert vb[key] == times * va[key]
        else:
            assert (math.isnan(va[key]) and math.isnan(vb[key])) or abs(va[key] - vb[key]) < 1e-9


@settings(max_examples=40, deadline=None)
@given(data(), st.lists(st.integers(0, 3), min_size=40, max_size=40))
def test_integer_weights_equal_repetition(d, weights):
    y, yp, _, _ = d
    w = np.array(weights[: len(y)])
    if w.sum() == 0:
        w[0] = 1
    repeated = ConfusionCounts.from_labels(np.repeat(y, w), np.repeat(yp, w), labels=LABELS)
    k = len(LABELS)
    weighted = np.bincount(y * k + yp, weights=w, minlength=k * k).reshape(k, k)
    assert repeated.counts.tolist() == weighted.astype(int).tolist()
    s1 = repeated.summary(n_bootstrap=0, zero_division="nan")
    s2 = ConfusionCounts(tuple(LABELS), weighted.astype(int)).summary(
        n_bootstrap=0, zero_division="nan"
    )
    same(values(s1), values(s2))
