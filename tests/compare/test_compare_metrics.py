"""Paired metric differences against scikit-learn, scipy and a literal row bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_rel
from sklearn import metrics as skm

from assay.compare import PairedPredictions
from assay.compare._metrics import confusion_metric, difference

SK = {
    "accuracy": skm.accuracy_score,
    "balanced_accuracy": skm.balanced_accuracy_score,
    "f1_macro": lambda y, p: skm.f1_score(y, p, average="macro"),
    "precision_macro": lambda y, p: skm.precision_score(y, p, average="macro"),
    "recall_macro": lambda y, p: skm.recall_score(y, p, average="macro"),
    "mcc": skm.matthews_corrcoef,
    "cohen_kappa": skm.cohen_kappa_score,
}


@pytest.mark.parametrize("name", sorted(SK))
def test_confusion_metrics_match_sklearn(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 500)
    p = np.where(rng.random(500) < 0.6, y, rng.integers(0, 4, 500))
    cm = skm.confusion_matrix(y, p, labels=range(4))
    assert float(confusion_metric(name, cm)) == pytest.approx(SK[name](y, p), abs=1e-12)
    stacked = confusion_metric(name, np.stack([cm, cm]))
    assert stacked.shape == (2,)


def test_binary_f1_of_the_positive_class(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = np.where(rng.random(300) < 0.7, y, 1 - y)
    cm = skm.confusion_matrix(y, p, labels=[0, 1])
    assert float(confusion_metric("f1", cm, positive=1)) == pytest.approx(skm.f1_score(y, p))
    assert float(confusion_metric("precision", cm, positive=0)) == pytest.approx(
        skm.precision_score(y, p, pos_label=0)
    )


def _three_class(seed: int, n: int = 400) -> PairedPredictions:
    rng = np.random.default_rng(seed)
    labels = ["a", "b", "c"]
    y = rng.integers(0, 3, n)
    a = np.where(rng.random(n) < 0.75, y, rng.integers(0, 3, n))
    b = np.where(rng.random(n) < 0.5, a, np.where(rng.random(n) < 0.6, y, rng.integers(0, 3, n)))
    lab = np.array(labels)
    return PairedPredictions(
        "classification", [str(i) for i in range(n)], lab[y], lab[a], lab[b], labels
    )


def test_bootstrap_over_cell_counts_equals_the_row_bootstrap(seed: int) -> None:
    """Multinomial draws of the k³ cells and resampling rows give the same distribution."""
    p = _three_class(seed)
    got = difference(p, ["f1_macro"], n_bootstrap=4000, seed=seed)[0]
    rng = np.random.default_rng(seed + 1)
    y, a, b = p.y_true, p.candidate, p.baseline
    f1 = lambda t, q: skm.f1_score(t, q, average="macro", labels=["a", "b", "c"])  # noqa: E731
    diffs = []
    for _ in range(600):
        i = rng.integers(0, p.n, p.n)
        diffs.append(f1(y[i], a[i]) - f1(y[i], b[i]))
    assert got.difference.value == pytest.approx(f1(y, a) - f1(y, b), abs=1e-12)
    assert got.se == pytest.approx(np.std(diffs, ddof=1), rel=0.1)
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    assert got.difference.lower == pytest.approx(lo, abs=0.01)
    assert got.difference.upper == pytest.approx(hi, abs=0.01)


def test_accuracy_uses_mcnemar_and_newcombe(seed: int) -> None:
    p = _three_class(seed)
    d = difference(p, ["accuracy"])[0]
    ra, rb = p.candidate == p.y_true, p.baseline == p.y_true
    assert d.difference.value == pytest.approx(ra.mean() - rb.mean())
    assert d.method == "mcnemar-mid-p+newcombe-paired"
    assert d.difference.lower < d.difference.value < d.difference.upper


def test_regression_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 800
    y = rng.normal(0, 2, n)
    a = y + rng.normal(0, 0.8, n)
    b = y + rng.normal(0.2, 1.0, n)
    p = PairedPredictions("regression", [str(i) for i in range(n)], y, a, b, [])
    mse, mae, rmse, r2 = difference(p, ["mse", "mae", "rmse", "r2"])
    ref = ttest_rel((a - y) ** 2, (b - y) ** 2)
    assert mse.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert (mse.difference.lower, mse.difference.upper) == pytest.approx(
        (ci.low, ci.high), rel=1e-9
    )
    assert mae.difference.value == pytest.approx(np.abs(a - y).mean() - np.abs(b - y).mean())
    assert rmse.difference.value == pytest.approx(
        np.sqrt(((a - y) ** 2).mean()) - np.sqrt(((b - y) ** 2).mean())
    )
    assert r2.difference.value == pytest.approx(skm.r2_score(y, a) - skm.r2_score(y, b))
    # The delta-method standard errors against a row bootstrap.
    boot_rmse, boot_r2 = [], []
    for _ in range(1000):
        i = rng.integers(0, n, n)
        boot_rmse.append(
            np.sqrt(((a[i] - y[i]) ** 2).mean()) - np.sqrt(((b[i] - y[i]) ** 2).mean())
        )
        boot_r2.append(skm.r2_score(y[i], a[i]) - skm.r2_score(y[i], b[i]))
    assert rmse.se == pytest.approx(np.std(boot_rmse, ddof=1), rel=0.12)
    assert r2.se == pytest.approx(np.std(boot_r2, ddof=1), rel=0.12)


def test_a_catalogued_metric_with_per_example_scores_is_compared_by_its_function(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Our dispatch, with a stand-in catalogue entry (a mock, on purpose: this is about how the
    comparison reads the catalogue): a function metric of 0/1 scores gets McNemar and Newcombe,
    a graded one the paired t interval, both on the function's per-example scores."""
    from dataclasses import replace

    import assay.compare._metrics as cm
    from assay.metrics import metric_info

    p = _three_class(seed)

    def hits(y_true, y_pred, *, labels):  # type: ignore[no-untyped-def]
        assert list(labels) == p.labels
        return (np.asarray(y_true) == np.asarray(y_pred)).astype(float)

    def graded(y_true, y_pred, *, labels, weight):  # type: ignore[no-untyped-def]
        return hits(y_true, y_pred, labels=labels) * weight + 0.1 * (np.asarray(y_pred) == "a")

    base = metric_info("accuracy")
    fake = {
        "again": replace(base, name="again", function=hits, source="function"),
        "graded": replace(base, name="graded", function=graded, source="function",
                          paired_test="paired-t", options={"weight": 0.5}),
    }
    monkeypatch.setattr(cm, "metric_info", lambda name, task=None: fake.get(name) or
                        metric_info(name, task=task))
    acc, again, g = difference(p, ["accuracy", "again", "graded"], seed=seed)
    assert again.method == acc.method and again.difference.value == acc.difference.value
    assert (again.difference.lower, again.difference.upper, again.p_value) == (
        acc.difference.lower, acc.difference.upper, acc.p_value,
    )
    sc, sb = graded(p.y_true, p.candidate, labels=p.labels, weight=0.5), graded(
        p.y_true, p.baseline, labels=p.labels, weight=0.5
    )
    assert g.method == "paired-t" and g.difference.value == pytest.approx((sc - sb).mean())
    assert g.p_value == pytest.approx(ttest_rel(sc, sb).pvalue, rel=1e-9)
