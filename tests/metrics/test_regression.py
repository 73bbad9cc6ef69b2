"""regression_summary against scikit-learn, validation, and interval coverage."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from assay.errors import MetricError, UndefinedMetricWarning
from assay.metrics import regression_summary


@pytest.mark.parametrize("n", [2, 5, 100, 3000])
def test_parity_with_sklearn(n, seed):
    for rep in range(4):
        rng = np.random.default_rng([seed, n, rep])
        y = rng.normal(3, 2, n)
        yp = y + rng.standard_t(3, n)
        s = regression_summary(y, yp, seed=rep, n_bootstrap=200)
        m = {k: v.value for k, v in s.metrics.items()}
        assert m["mse"] == pytest.approx(skm.mean_squared_error(y, yp), rel=1e-9)
        assert m["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, yp)), rel=1e-9)
        assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, yp), rel=1e-9)
        assert m["mape"] == pytest.approx(
            skm.mean_absolute_percentage_error(y, yp), rel=1e-9
        )
        assert m["r2"] == pytest.approx(skm.r2_score(y, yp), rel=1e-9, abs=1e-9)
        assert m["median_absolute_error"] == pytest.approx(
            skm.median_absolute_error(y, yp), rel=1e-9
        )
        assert m["mean_residual"] == pytest.approx(np.mean(y - yp), abs=1e-12)
        for key, est in s.metrics.items():
            assert est.lower <= est.value + 1e-9 <= est.upper + 2e-9, key
        assert len(s.tables["scatter"]["y_true"]) == min(n, 500)
        json.dumps(s.to_dict(), allow_nan=False)


def test_validation_names_position():
    with pytest.raises(MetricError, match="position 2"):
        regression_summary([1.0, 2.0, np.nan], [1.0, 2.0, 3.0])
    with pytest.raises(MetricError, match="must match"):
        regression_summary([1.0, 2.0], [1.0])
    with pytest.warns(UndefinedMetricWarning, match="r2"):
        s = regression_summary([1.0, 1.0, 1.0], [1.0, 2.0, 0.0], n_bootstrap=10, seed=0)
    assert math.isnan(s.metrics["r2"].value)
    with pytest.raises(MetricError, match="r2"):
        regression_summary([1.0, 1.0], [1.0, 2.0], zero_division="raise")


def test_row_order_invariance(rng):
    y = rng.normal(size=50)
    yp = y + rng.normal(size=50)
    perm = rng.permutation(50)
    a = regression_summary(y, yp, n_bootstrap=0)
    b = regression_summary(y[perm], yp[perm], n_bootstrap=0)
    for key in a.metrics:
        assert a.metrics[key].value == pytest.approx(b.metrics[key].value, rel=1e-12)


@pytest.mark.simulation
def test_coverage_mse_and_mae():
    rng = np.random.default_rng(99)
    sims, n = 500, 200
    # residuals ~ N(0, 1): true MSE 1, true MAE sqrt(2/pi)
    hits = {"mse": [], "mae": []}
    truth = {"mse": 1.0, "mae": math.sqrt(2 / math.pi)}
    for i in range(sims):
        y = rng.normal(size=n)
        s = regression_summary(y, y + rng.normal(size=n), n_bootstrap=500, seed=i)
        for key in hits:
            hits[key].append(s.metrics[key].contains(truth[key]))
    for key, h in hits.items():
        cov = float(np.mean(h))
        print(f"\ncoverage {key} (bootstrap): {cov:.3f} over {sims} data sets")
        assert 0.92 <= cov <= 0.97
