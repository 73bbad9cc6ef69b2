"""Failed model calls counted as wrong answers (``engine.errors: wrong``) in a binary problem."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import accuracy_score

import assay


def test_failed_calls_count_as_wrong_in_a_binary_problem_with_positive_label(
    tmp_path: Path,
) -> None:
    texts = [f"review number {i} {'good' if i % 2 else 'bad'}" for i in range(60)]
    labels = ["pos" if i % 2 else "neg" for i in range(60)]
    pd.DataFrame({"id": range(60), "text": texts, "label": labels}).to_csv(
        tmp_path / "t.csv", index=False
    )
    # A model of our own that fails on every tenth review and is right on the others.
    (tmp_path / "flaky.py").write_text(
        "def predict(batch):\n"
        "    out = []\n"
        "    for t in batch:\n"
        "        if int(t.split()[2]) % 10 == 0:\n"
        "            raise RuntimeError('boom')\n"
        "        p = 0.9 if t.endswith('good') else 0.1\n"
        "        out.append({'label': 'pos' if p > 0.5 else 'neg', 'probabilities': {'pos': p, 'neg': 1 - p}})\n"
        "    return out\n"
    )
    suite = {
        "data": {
            "path": "t.csv",
            "id": "id",
            "input": "text",
            "label": "label",
            "labels": ["neg", "pos"],
        },
        "models": {"candidate": "python:flaky.py:predict"},
        "checks": {"performance": {"positive_label": "pos"}},
        "engine": {
            "cache": None,
            "errors": "wrong",
            "retries": 0,
            "batch_size": 8,
            "progress": False,
        },
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    report = assay.evaluate(tmp_path / "suite.yaml", write=False, progress=False)
    perf = report.result("performance")
    assert perf is not None and perf.errors.n_errors == 6 and perf.n == 60
    y_pred = [
        ("neg" if lab == "pos" else "pos") if i % 10 == 0 else lab for i, lab in enumerate(labels)
    ]
    assert perf.metrics["accuracy"].value == pytest.approx(
        accuracy_score(labels, y_pred), abs=1e-12
    )
    assert "recall" in perf.metrics and "roc_auc" in perf.metrics


def test_comparison_sees_the_same_predictions_as_the_performance_check(tmp_path: Path) -> None:
    """The paired comparison reads the per-example table; with failed calls counted as wrong its
    differences must equal the difference of the two models' performance metrics."""
    texts = [f"review number {i} {'good' if i % 3 else 'bad'}" for i in range(200)]
    labels = ["pos" if i % 3 else "neg" for i in range(200)]
    pd.DataFrame({"id": range(200), "text": texts, "label": labels}).to_csv(
        tmp_path / "t.csv", index=False
    )
    (tmp_path / "m.py").write_text(
        "def _answer(t, p):\n"
        "    p = p if t.endswith('good') else 1 - p\n"
        "    return {'label': 'pos' if p > 0.5 else 'neg', 'probabilities': {'pos': p, 'neg': 1 - p}}\n"
        "def good(batch):\n"
        "    return [_answer(t, 0.9) for t in batch]\n"
        "def flaky(batch):\n"
        "    if any(int(t.split()[2]) % 10 == 0 for t in batch):\n"
        "        raise RuntimeError('boom')\n"
        "    return [_answer(t, 0.8) for t in batch]\n"
    )
    suite = {
        "data": {
            "path": "t.csv",
            "id": "id",
            "input": "text",
            "label": "label",
            "labels": ["neg", "pos"],
        },
        "models": {"candidate": "python:m.py:flaky", "baseline": "python:m.py:good"},
        "checks": {"performance": {"positive_label": "pos"}, "compare": {}},
        "engine": {
            "cache": None,
            "errors": "wrong",
            "retries": 0,
            "batch_size": 8,
            "progress": False,
        },
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    report = assay.evaluate(tmp_path / "suite.yaml", write=False, progress=False)
    cand, base = report.result("performance", "candidate"), report.result("performance", "baseline")
    comp = report.result("compare", "candidate")
    assert cand is not None and base is not None and comp is not None
    assert cand.errors.n_errors == 20
    for m in ("accuracy", "f1_macro"):
        expected = cand.metrics[m].value - base.metrics[m].value
        assert comp.metrics[f"{m}.diff"].value == pytest.approx(expected, abs=1e-12)
