"""Calibration metrics against direct computation of their definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss

from assay.uncertainty import (
    apply_temperature,
    brier_decomposition,
    calibration_report,
    fit_temperature,
    reliability_bins,
)


def _data(seed: int, n: int = 600, k: int = 3, sharpen: float = 2.0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * 1.5
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random((n, 1)) > p.cumsum(axis=1)).sum(axis=1)
    q = np.exp(sharpen * logits) / np.exp(sharpen * logits).sum(axis=1, keepdims=True)
    return q, y


def _ece_literal(conf, correct, edges_of):
    """Σ_b (n_b/n)|acc_b − conf_b| with bins given by a function row → bin, written as loops."""
    n = len(conf)
    bins: dict[int, list[int]] = {}
    for i in range(n):
        bins.setdefault(edges_of(i), []).append(i)
    return sum(
        len(r) / n * abs(np.mean([correct[i] for i in r]) - np.mean([conf[i] for i in r]))
        for r in bins.values()
    )


def test_ece_equal_width_and_equal_mass_match_the_definitions(seed):
    p, y = _data(seed)
    rep = calibration_report(p, y, n_bins=10)
    conf = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    width = _ece_literal(conf, correct, lambda i: min(9, max(0, int(np.ceil(conf[i] * 10)) - 1)))
    rank = np.argsort(np.argsort(conf, kind="stable"), kind="stable")
    mass = _ece_literal(conf, correct, lambda i: int(rank[i] * 10 // len(conf)))
    assert rep.ece == pytest.approx(width, abs=1e-12)
    assert rep.ece_equal_mass == pytest.approx(mass, abs=1e-12)
    classwise = np.mean(
        [
            _ece_literal(
                p[:, c], (y == c), lambda i, c=c: min(9, max(0, int(np.ceil(p[i, c] * 10)) - 1))
            )
            for c in range(3)
        ]
    )
    assert rep.classwise_ece == pytest.approx(classwise, abs=1e-12)
    assert rep.log_loss == pytest.approx(log_loss(y, p), abs=1e-12)


def test_brier_decomposition_binary_against_sklearn_and_murphy():
    rng = np.random.default_rng(1)
    # forecasts constant inside each bin: the decomposition is exact
    f = rng.choice([0.05, 0.25, 0.55, 0.85], size=2000)
    y = (rng.random(2000) < f * 0.8 + 0.1).astype(int)
    proba = np.column_stack([1 - f, f])
    d = brier_decomposition(proba, y, positive=1, n_bins=10)
    assert d.brier == pytest.approx(brier_score_loss(y, f), abs=1e-12)
    assert d.reliability - d.resolution + d.uncertainty == pytest.approx(d.brier, abs=1e-12)
    assert d.uncertainty == pytest.approx(y.mean() * (1 - y.mean()))
    assert d.within_bin == pytest.approx(0.0, abs=1e-12)


def test_reliability_bins_hold_every_row_with_wilson_intervals(seed):
    p, y = _data(seed)
    bins = reliability_bins(p, y, n_bins=10)
    assert sum(b["n"] for b in bins) == len(y)
    for b in bins:
        assert b["accuracy_lower"] <= b["accuracy"] <= b["accuracy_upper"]
        assert b["lo"] < b["confidence"] <= b["hi"] + 1e-12


def test_temperature_scaling_softens_an_overconfident_model_and_lowers_ece(seed):
    p, y = _data(seed, n=3000, sharpen=2.5)
    t = fit_temperature(p[:1500], y[:1500])
    assert 2.0 < t < 3.0  # the labels come from p ** (1/2.5), renormalised
    after = apply_temperature(p[1500:], t)
    assert calibration_report(after, y[1500:]).ece < calibration_report(p[1500:], y[1500:]).ece
    assert np.allclose(after.sum(axis=1), 1.0)
    assert np.array_equal(after.argmax(axis=1), p[1500:].argmax(axis=1))
