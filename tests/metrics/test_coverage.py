"""Coverage of the 95% intervals by simulation (fixed seed, so deterministic).

Run with ``-s`` to see the coverage figures.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from assay.metrics import ConfusionCounts
from assay.metrics._confusion import ConfusionCounts as _CC
from assay.metrics._counts import count_metrics
from assay.stats import delong_auc

N_SIMS = 600
LEVEL = 0.95
LO, HI = 0.93, 0.97


def report(name, hits):
    cov = float(np.mean(hits))
    print(f"\ncoverage {name}: {cov:.3f} over {len(hits)} data sets")
    return cov


@pytest.mark.simulation
def test_coverage_accuracy_and_macro_f1():
    rng = np.random.default_rng(20240601)
    # A 3-class population: cell probabilities of (true, predicted).
    p = np.array([[0.25, 0.04, 0.03], [0.05, 0.20, 0.05], [0.02, 0.06, 0.30]])
    truth = count_metrics(p)
    true_acc, true_f1 = float(truth["accuracy"]), float(truth["f1_macro"])
    n = 250
    hit_acc, hit_f1 = [], []
    for i in range(N_SIMS):
        cm = rng.multinomial(n, p.ravel()).reshape(3, 3)
        s = _CC(("a", "b", "c"), cm).summary(n_bootstrap=500, seed=i, level=LEVEL,
                                             zero_division="nan")
        hit_acc.append(s.metrics["accuracy"].contains(true_acc))
        hit_f1.append(s.metrics["f1_macro"].contains(true_f1))
    assert LO <= report("accuracy (wilson)", hit_acc) <= HI
    assert LO <= report("f1_macro (bootstrap-counts)", hit_f1) <= HI
    assert ConfusionCounts is _CC


@pytest.mark.simulation
def test_coverage_auc():
    rng = np.random.default_rng(7)
    shift = 1.0
    true_auc = float(norm.cdf(shift / np.sqrt(2)))  # binormal, unit variances
    hits = []
    for _ in range(N_SIMS):
        n = 150
        y = rng.random(n) < 0.4
        s = rng.normal(size=n) + shift * y
        hits.append(delong_auc(y, s, level=LEVEL).contains(true_auc))
    assert LO <= report("roc_auc (delong, logit)", hits) <= HI
