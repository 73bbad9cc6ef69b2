"""The TensorBoard sink, read back with TensorBoard's own event reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

from assay.report import Report
from assay.tracking import write_tensorboard
from assay.tracking._tensorboard_sink import PR_THRESHOLDS, pr_counts

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _read(logdir: Path):
    ea = event_accumulator.EventAccumulator(str(logdir), size_guidance={"scalars": 0, "tensors": 0})
    ea.Reload()
    return ea


def test_scalars_pr_curves_and_text(shared_report: Report, tmp_path: Path) -> None:
    report = shared_report.model_copy(deep=True)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    score = np.clip(y * 0.4 + rng.random(400) * 0.6, 0, 1)
    perf = report.result("performance", "candidate")
    assert perf is not None
    perf.tables["per_example"] = {
        "id": [str(i) for i in range(400)],
        "y_true": ["positive" if v else "negative" for v in y],
        "y_pred": ["positive" if s >= 0.5 else "negative" for s in score],
        "score": score.tolist(),
        "positive_label": "positive",
        "n_total": 400,
        "truncated": False,
    }
    write_tensorboard(
        report,
        tmp_path / "tb",
        step=7,
        series={"candidate/checkpoints.accuracy": [(100, 0.7), (200, 0.8)]},
    )
    ea = _read(tmp_path / "tb")
    acc = perf.metrics["accuracy"]
    (ev,) = ea.Scalars("candidate/performance.accuracy")
    assert ev.step == 7 and ev.value == pytest.approx(acc.value, rel=1e-6)
    assert ea.Scalars("candidate/performance.accuracy.lower")[0].value == pytest.approx(
        acc.lower, rel=1e-6
    )
    assert [(e.step, round(e.value, 6)) for e in ea.Scalars("candidate/checkpoints.accuracy")] == [
        (100, 0.7),
        (200, 0.8),
    ]
    n_scalars = sum(
        3
        for r in report.results
        for e in r.metrics.values()
        if np.isfinite(e.value) and np.isfinite(e.lower) and np.isfinite(e.upper)
    )
    assert len(ea.Tags()["scalars"]) >= n_scalars - 50  # undefined bounds are left out
    # The PR curve: TensorBoard's [tp, fp, tn, fn, precision, recall] × thresholds layout.
    (pr,) = ea.Tensors("candidate/pr_curve/reviews")
    data = np.frombuffer(pr.tensor_proto.tensor_content, dtype=np.float32).reshape(6, PR_THRESHOLDS)
    k = 100  # threshold 0.5
    pred = score >= k / (PR_THRESHOLDS - 1)
    assert data[0, k] == (pred & (y == 1)).sum() and data[1, k] == (pred & (y == 0)).sum()
    assert data[4, k] == pytest.approx(precision_score(y, pred), abs=1e-6)
    assert data[5, k] == pytest.approx(recall_score(y, pred), abs=1e-6)
    meta = ea.SummaryMetadata("candidate/pr_curve/reviews")
    assert meta.plugin_data.plugin_name == "pr_curves"
    # Failing examples and gates as text.
    (text,) = ea.Tensors("candidate/performance/failing_examples")
    body = text.tensor_proto.string_val[0].decode()
    assert body.startswith("**performance** · candidate") and "| id |" in body
    assert ea.SummaryMetadata("gates").plugin_data.plugin_name == "text"
    assert (
        "**FAIL** `performance.roc_auc.lower >= 0.97`"
        in ea.Tensors("gates")[0].tensor_proto.string_val[0].decode()
    )


def test_pr_counts_against_a_literal_count() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.3
    s = rng.random(300)
    data = pr_counts(y, s, num_thresholds=11)
    for k in range(11):
        pred = np.floor(s * 10) >= k
        assert data[0, k] == (pred & y).sum() and data[3, k] == (~pred & y).sum()
        assert data[2, k] == (~pred & ~y).sum()
