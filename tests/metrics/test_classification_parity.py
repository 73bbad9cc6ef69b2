"""classification_summary against scikit-learn (values within 1e-9) on randomised inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from assay.errors import MetricError, UndefinedMetricWarning
from assay.metrics import classification_summary

TOL = 1e-9


def sk(fn, *args, **kwargs):
    """Call a sklearn metric with its own warnings silenced (we test ours separately)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def close(ours: float, ref: float) -> bool:
    if math.isnan(ref):
        return math.isnan(ours)
    return abs(ours - ref) <= TOL


def make_case(rng, k, n, *, string_labels, ties, drop_true=False, drop_pred=False):
    labels = [f"c{i}" for i in range(k)] if string_labels else list(range(10, 10 + k))
    codes = rng.integers(0, k, n)
    if drop_true:  # a class that never occurs in y_true
        codes[codes == k - 1] = 0
    raw = rng.integers(1, 4, size=(n, k)).astype(float) if ties else rng.gamma(1.0, size=(n, k))
    raw[np.arange(n), codes] += rng.gamma(1.0, size=n)
    if ties:
        raw = np.round(raw)
    proba = raw / raw.sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    flip = rng.random(n) < 0.2
    pred = np.where(flip, rng.integers(0, k, n), pred)
    if drop_pred:  # a class that is never predicted
        pred[pred == 0] = 1
    lab = np.array(labels)
    return labels, lab[codes], lab[pred], proba, codes


CASES = [
    (k, n, s, t)
    for k in (2, 3, 5)
    for n in (30, 200)
    for s in (False, True)
    for t in (False, True)
]


def check_counts(summary, labels, y, yp, *, binary_pos=None):
    m = summary.metrics
    ref = {
        "accuracy": skm.accuracy_score(y, yp),
        "balanced_accuracy": sk(skm.balanced_accuracy_score, y, yp),
        "mcc": sk(skm.matthews_corrcoef, y, yp),
        "cohen_kappa": sk(skm.cohen_kappa_score, y, yp, labels=labels),
    }
    for avg in ("macro", "micro", "weighted"):
        p, r, f, _ = sk(
            skm.precision_recall_fscore_support,
            y, yp, labels=labels, average=avg, zero_division=np.nan,
        )
        ref |= {f"precision_{avg}": p, f"recall_{avg}": r, f"f1_{avg}": f}
    for key, val in ref.items():
        if key == "mcc" and math.isnan(m[key].value):
            continue  # sklearn reports 0.0 where MCC is undefined; we report NaN (tested apart)
        if key == "cohen_kappa" and math.isnan(m[key].value):
            continue
        if key.endswith("_weighted") and math.isnan(m[key].value):
            # Every class with a defined value has support 0: the weighted mean has no weight.
            # sklearn reports 0.0 there; we report NaN.
            sup = [m[f"per_class.{lab}.support"].value for lab in labels]
            per = [m[f"per_class.{lab}.{key.split('_')[0]}"].value for lab in labels]
            assert all(s == 0 for s, v in zip(sup, per, strict=True) if not math.isnan(v))
            continue
        assert close(m[key].value, float(val)), (key, m[key].value, val)
    p, r, f, s = sk(
        skm.precision_recall_fscore_support, y, yp, labels=labels, zero_division=np.nan
    )
    cm = skm.confusion_matrix(y, yp, labels=labels)
    assert summary.tables["confusion_matrix"] == cm.tolist()
    n = cm.sum()
    spec = []
    for c, lab in enumerate(labels):
        key = f"per_class.{lab}"
        assert close(m[f"{key}.precision"].value, p[c])
        assert close(m[f"{key}.recall"].value, r[c])
        assert close(m[f"{key}.f1"].value, f[c])
        assert m[f"{key}.support"].value == s[c]
        tn = n - cm[c].sum() - cm[:, c].sum() + cm[c, c]
        neg = n - cm[c].sum()
        spec.append(tn / neg if neg else math.nan)
        assert close(m[f"{key}.specificity"].value, spec[-1])
    assert close(m["specificity_macro"].value, float(np.nanmean(spec)))
    if binary_pos is not None:
        pos = labels[binary_pos]
        for name, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            want = sk(fn, y, yp, pos_label=pos, average="binary", zero_division=np.nan)
            assert close(m[name].value, float(want)), name


@pytest.mark.parametrize(("k", "n", "string_labels", "ties"), CASES)
def test_parity_with_sklearn(k, n, string_labels, ties, seed):
    for rep in range(3):
        rng = np.random.default_rng([seed, k, n, rep])
        labels, y, yp, proba, codes = make_case(rng, k, n, string_labels=string_labels, ties=ties)
        if len(np.unique(codes)) < k:
            continue  # all classes present here; absent classes are tested separately
        s = classification_summary(
            y, yp, labels=labels, proba=proba, seed=rep, n_bootstrap=50,
            zero_division="nan", curve_points=10_000,
        )
        m = s.metrics
        check_counts(s, labels, y, yp, binary_pos=1 if k == 2 else None)
        assert close(m["log_loss"].value, skm.log_loss(y, proba, labels=labels))
        yb = label_binarize(y, classes=labels)
        if k == 2:
            yb = (y == labels[1]).astype(int)
            assert close(m["roc_auc"].value, skm.roc_auc_score(yb, proba[:, 1]))
            assert close(m["average_precision"].value, skm.average_precision_score(yb, proba[:, 1]))
            assert close(m["brier"].value, skm.brier_score_loss(yb, proba[:, 1]))
            fpr, tpr, thr = skm.roc_curve(yb, proba[:, 1], drop_intermediate=False)
            np.testing.assert_allclose(s.tables["roc_curve"]["fpr"], fpr, atol=TOL)
            np.testing.assert_allclose(s.tables["roc_curve"]["tpr"], tpr, atol=TOL)
            np.testing.assert_allclose(s.tables["roc_curve"]["thresholds"][1:], thr[1:])
            prec, rec, _ = skm.precision_recall_curve(yb, proba[:, 1])
            np.testing.assert_allclose(s.tables["pr_curve"]["precision"][1:], prec[::-1][1:])
            np.testing.assert_allclose(s.tables["pr_curve"]["recall"][1:], rec[::-1][1:])
        else:
            for avg in ("macro", "weighted"):
                for mc in ("ovr", "ovo"):
                    want = skm.roc_auc_score(
                        y, proba, multi_class=mc, average=avg, labels=labels
                    )
                    assert close(m[f"roc_auc_{mc}_{avg}"].value, want), (mc, avg)
            want = skm.average_precision_score(yb, proba, average="macro")
            assert close(m["average_precision_macro"].value, want)
            brier = np.mean(((proba - yb) ** 2).sum(axis=1))
            assert close(m["brier"].value, brier)
        conf = proba.max(axis=1)
        correct = proba.argmax(axis=1) == codes
        ece = 0.0
        for b in range(10):
            lo, hi = b / 10, (b + 1) / 10
            sel = (conf > lo) & (conf <= hi) if b else (conf <= hi)
            if sel.any():
                ece += sel.mean() * abs(conf[sel].mean() - correct[sel].mean())
        assert close(m["ece"].value, ece)
        for name, est in m.items():
            # ECE is biased upwards (|·| of noise), so its percentile interval may sit above it.
            if est.defined and est.method != "none" and name != "ece":
                assert est.lower <= est.value + 1e-12 and est.value <= est.upper + 1e-12, est


@pytest.mark.parametrize("k", [2, 4])
def test_absent_and_never_predicted_classes(k, seed):
    rng = np.random.default_rng([seed, k])
    labels, y, yp, _, _ = make_case(
        rng, k, 100, string_labels=True, ties=False, drop_true=True, drop_pred=True
    )
    with pytest.warns(UndefinedMetricWarning, match="never predicted"):
        s = classification_summary(y, yp, labels=labels, seed=0, n_bootstrap=20)
    check_counts(s, labels, y, yp, binary_pos=1 if k == 2 else None)
    assert math.isnan(s.metrics[f"per_class.{labels[0]}.precision"].value)
    assert math.isnan(s.metrics[f"per_class.{labels[-1]}.recall"].value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s2 = classification_summary(
            y, yp, labels=labels, seed=0, n_bootstrap=20, zero_division="nan"
        )
    assert s2.metrics["f1_macro"].value == s.metrics["f1_macro"].value
    with pytest.raises(MetricError, match="zero_division='raise'"):
        classification_summary(y, yp, labels=labels, zero_division="raise")


def test_single_class_in_y_true_with_proba():
    y = np.array([1, 1, 1, 1])
    proba = np.array([[0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9]])
    with pytest.warns(UndefinedMetricWarning, match="roc_auc"):
        s = classification_summary(y, proba.argmax(1), labels=[0, 1], proba=proba, seed=0)
    assert math.isnan(s.metrics["roc_auc"].value)
    assert s.metrics["average_precision"].value == 1.0
    assert math.isnan(s.metrics["mcc"].value)  # constant truth: undefined, not 0
    with pytest.raises(MetricError):
        classification_summary(y, y, labels=[0, 1], proba=proba, zero_division="raise")


def test_positive_label_and_string_labels():
    y = ["spam", "ham", "spam", "ham", "spam"]
    yp = ["spam", "spam", "spam", "ham", "ham"]
    s = classification_summary(y, yp, labels=["spam", "ham"], positive_label="spam",
                               seed=0)
    assert s.metrics["precision"].value == pytest.approx(2 / 3)
    assert s.metrics["recall"].value == pytest.approx(2 / 3)
    assert s.metrics["specificity"].value == pytest.approx(1 / 2)
    assert s.tables["labels"] == ["spam", "ham"]


def test_errors_name_value_and_position():
    with pytest.raises(MetricError, match=r"y_pred\[2\] = 'x' is not one of labels"):
        classification_summary(["a", "b", "a"], ["a", "b", "x"], labels=["a", "b"])
    with pytest.raises(MetricError, match="rows"):
        classification_summary(["a", "b"], ["a"], labels=["a", "b"])
    with pytest.raises(MetricError, match=r"proba\[1\] sums to"):
        classification_summary([0, 1], [0, 1], labels=[0, 1], proba=[[0.5, 0.5], [0.5, 0.6]])
    with pytest.raises(MetricError, match="shape"):
        classification_summary([0, 1], [0, 1], labels=[0, 1], proba=[[0.5, 0.5]])
    with pytest.raises(MetricError, match="zero_division"):
        classification_summary([0, 1], [0, 1], labels=[0, 1], zero_division="zero")
    with pytest.raises(MetricError, match="distinct"):
        classification_summary([0, 1], [0, 1], labels=[0, 1, 1])


def test_tables_are_json_ready_and_downsampled(rng):
    import json

    labels, y, yp, proba, _ = make_case(rng, 3, 2000, string_labels=False, ties=False)
    s = classification_summary(y, yp, labels=labels, proba=proba, seed=1,
                               n_bootstrap=30, curve_points=50)
    text = json.dumps(s.to_dict(), allow_nan=False)
    assert "roc_curve" in text
    for lab in labels:
        roc = s.tables["roc_curve"][str(lab)]
        assert len(roc["fpr"]) <= 50
        assert roc["fpr"][0] == 0.0 and roc["fpr"][-1] == 1.0 and roc["tpr"][-1] == 1.0
        assert roc["thresholds"][0] is None
        assert np.all(np.diff(roc["fpr"]) >= 0)
    rel = s.tables["reliability"]
    assert sum(rel["count"]) == 2000 and len(rel["bin_lower"]) == 10


def test_seeded_results_are_reproducible(rng):
    labels, y, yp, proba, _ = make_case(rng, 3, 300, string_labels=False, ties=False)
    a = classification_summary(y, yp, labels=labels, proba=proba, seed=7, n_bootstrap=40)
    b = classification_summary(y, yp, labels=labels, proba=proba,
                               seed=np.random.default_rng(7), n_bootstrap=40)
    assert a.metrics == b.metrics
