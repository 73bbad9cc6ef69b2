"""top_k_accuracy beyond the common tests: every k against scikit-learn on tie-free and tied
scores, its argument checks, and its paired comparison."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from assay.compare import CompareOptions, PairedPredictions, compare_paired
from assay.errors import ConfigError, MetricError
from assay.metrics._top_k import top_k_accuracy_scores


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_every_k_equals_sklearn(k: int, ties: bool, seed: int) -> None:
    rng = np.random.default_rng([seed, k])
    labels = ["a", "b", "c", "d"]
    raw = rng.integers(1, 4, (300, 4)).astype(float) if ties else rng.gamma(1.0, size=(300, 4))
    proba = raw / raw.sum(axis=1, keepdims=True)
    y = np.array(labels)[rng.integers(0, 4, 300)]
    got = top_k_accuracy_scores(y, proba, labels=labels, k=k)
    assert got.mean() == pytest.approx(skm.top_k_accuracy_score(y, proba, k=k, labels=labels),
                                       abs=1e-12)
    if k == 1 and not ties:
        assert got.mean() == skm.accuracy_score(y, np.array(labels)[proba.argmax(axis=1)])


def test_arguments_are_checked() -> None:
    proba = [[0.5, 0.3, 0.2]]
    with pytest.raises(MetricError, match=r"1 <= k < 3"):
        top_k_accuracy_scores(["a"], proba, labels=["a", "b", "c"], k=3)
    with pytest.raises(MetricError, match=r"1 <= k < 3"):
        top_k_accuracy_scores(["a"], proba, labels=["a", "b", "c"], k=0)
    with pytest.raises(MetricError, match=r"y_true\[0\] = 'z' is not one of labels"):
        top_k_accuracy_scores(["z"], proba, labels=["a", "b", "c"])
    with pytest.raises(MetricError, match="proba must have shape"):
        top_k_accuracy_scores(["a"], [[0.5, 0.5]], labels=["a", "b", "c"])


def test_compared_by_mcnemar_on_the_hits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = ("a", "b", "c")
    y = rng.integers(0, 3, 400)

    def model(strength: float) -> np.ndarray:
        raw = rng.gamma(1.0, size=(400, 3))
        raw[np.arange(400), y] += strength
        return raw / raw.sum(axis=1, keepdims=True)

    pc, pb = model(2.0), model(0.3)
    lab = np.array(labels)
    p = PairedPredictions(
        "classification", [str(i) for i in range(400)], lab[y], lab[pc.argmax(1)],
        lab[pb.argmax(1)], list(labels), candidate_proba=pc, baseline_proba=pb,
        proba_labels=labels,
    )
    row = compare_paired(p, CompareOptions(metrics=["top_k_accuracy"])).metrics[0]
    hc = top_k_accuracy_scores(lab[y], pc, labels=labels)
    hb = top_k_accuracy_scores(lab[y], pb, labels=labels)
    assert row.direction == "higher" and row.difference.method.startswith("mcnemar")
    assert row.difference.value == pytest.approx(hc.mean() - hb.mean())
    assert row.status == "better"
    bare = PairedPredictions("classification", p.ids, p.y_true, p.candidate, p.baseline, p.labels)
    with pytest.raises(ConfigError, match="top_k_accuracy needs both models' class probabilities"):
        compare_paired(bare, CompareOptions(metrics=["top_k_accuracy"]))
