"""ConfusionCounts is a mergeable sufficient statistic (hypothesis property tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.errors import MetricError
from assay.metrics import ConfusionCounts, classification_summary

LABELS = ["a", "b", "c"]
pairs = st.lists(
    st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS)), min_size=1, max_size=60
)


@settings(max_examples=60, deadline=None)
@given(pairs, st.integers(0, 60))
def test_two_halves_add_up_to_the_whole(rows, cut):
    y = [r[0] for r in rows]
    yp = [r[1] for r in rows]
    cut = min(cut, len(rows))
    whole = ConfusionCounts.from_labels(y, yp, labels=LABELS)
    left = ConfusionCounts.from_labels(y[:cut], yp[:cut], labels=LABELS)
    right = ConfusionCounts.from_labels(y[cut:], yp[cut:], labels=LABELS)
    assert left + right == whole
    assert sum([left, right]) == whole
    assert whole.n == len(rows)


@settings(max_examples=30, deadline=None)
@given(pairs)
def test_summary_from_counts_equals_summary_from_rows(rows):
    y = [r[0] for r in rows]
    yp = [r[1] for r in rows]
    kw = {"seed": 3, "n_bootstrap": 50, "zero_division": "nan"}
    a = ConfusionCounts.from_labels(y, yp, labels=LABELS).summary(**kw)
    b = classification_summary(y, yp, labels=LABELS, **kw)
    assert a.metrics.keys() == b.metrics.keys()
    for key in a.metrics:
        ea, eb = a.metrics[key], b.metrics[key]
        assert ea.to_dict() == eb.to_dict(), key


def test_mismatched_labels_cannot_be_added():
    a = ConfusionCounts.empty(["a", "b"])
    with pytest.raises(MetricError, match="same labels"):
        a + ConfusionCounts.empty(["b", "a"])
    with pytest.raises(MetricError):
        ConfusionCounts(("a",), np.array([[1, 2]]))
    assert a.to_frame().shape == (2, 2)
