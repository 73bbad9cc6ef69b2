"""Planted comparisons: a baseline and a candidate that is better, worse or the same."""

from __future__ import annotations

from typing import Literal

import numpy as np

from assay.compare import PairedPredictions

LABELS = ["neg", "pos"]


def planted(
    kind: Literal["better", "worse", "same", "similar"], *, n: int = 3000, seed: int = 0
) -> PairedPredictions:
    """Binary scores; the candidate's signal is stronger, weaker, the very same model, or as strong
    with other noise (``similar``)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    noise = rng.normal(0, 1, n)
    base = y * 1.2 + noise
    other = rng.normal(0, 1, n)
    strength = {"better": 2.0, "worse": 0.6, "same": 1.2, "similar": 1.2}[kind]
    cand = base if kind == "same" else y * strength + 0.6 * noise + 0.8 * other
    sig = lambda s: 1 / (1 + np.exp(-(s - 0.6)))  # noqa: E731
    lab = np.array(LABELS)
    return PairedPredictions(
        "classification",
        [f"id{i}" for i in range(n)],
        lab[y],
        lab[(sig(cand) > 0.5).astype(int)],
        lab[(sig(base) > 0.5).astype(int)],
        list(LABELS),
        sig(cand),
        sig(base),
        "pos",
    )


def per_example(p: PairedPredictions, which: Literal["candidate", "baseline"]) -> dict:
    pred = p.candidate if which == "candidate" else p.baseline
    score = p.candidate_score if which == "candidate" else p.baseline_score
    assert score is not None
    return {
        "id": list(p.ids),
        "y_true": p.y_true.tolist(),
        "y_pred": pred.tolist(),
        "score": score.tolist(),
        "positive_label": "pos",
        "n_total": p.n,
        "truncated": False,
    }
