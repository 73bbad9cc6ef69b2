"""multilabel_summary against scikit-learn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from assay.errors import MetricError
from assay.metrics import multilabel_summary


@pytest.mark.parametrize("n", [5, 60, 2500])
def test_parity_with_sklearn(n, seed):
    rng = np.random.default_rng([seed, n])
    yt = rng.random((n, 4)) < 0.4
    yp = np.where(rng.random((n, 4)) < 0.8, yt, ~yt)
    s = multilabel_summary(yt.astype(int), yp.astype(int), labels=list("abcd"),
                           n_bootstrap=100, seed=0, zero_division="nan")
    m = {k: v.value for k, v in s.metrics.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert m["subset_accuracy"] == pytest.approx(skm.accuracy_score(yt, yp), abs=1e-12)
        assert m["hamming_loss"] == pytest.approx(skm.hamming_loss(yt, yp), abs=1e-12)
        for avg in ("micro", "macro", "weighted", "samples"):
            p, r, f, _ = skm.precision_recall_fscore_support(
                yt, yp, average=avg, zero_division=np.nan
            )
            assert m[f"precision_{avg}"] == pytest.approx(p, abs=1e-9), avg
            assert m[f"recall_{avg}"] == pytest.approx(r, abs=1e-9), avg
            assert m[f"f1_{avg}"] == pytest.approx(f, abs=1e-9), avg
        p, r, f, sup = skm.precision_recall_fscore_support(yt, yp, zero_division=np.nan)
    for j, lab in enumerate("abcd"):
        assert m[f"per_label.{lab}.precision"] == pytest.approx(p[j], nan_ok=True)
        assert m[f"per_label.{lab}.recall"] == pytest.approx(r[j], nan_ok=True)
        assert m[f"per_label.{lab}.f1"] == pytest.approx(f[j], nan_ok=True)
        assert m[f"per_label.{lab}.support"] == sup[j]


def test_bad_cells_are_named():
    with pytest.raises(MetricError, match=r"Y_pred\[1, 0\] = 2"):
        multilabel_summary([[0, 1], [1, 1]], [[0, 1], [2, 1]], labels=["a", "b"])
