"""The performance check's own unparseable rate: a language model's answers that named no label."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportion_confint

from assay import evaluate
from assay._runner import suite_from_dict
from assay._types import UNPARSEABLE_LABEL

# id, text, label, the model's raw answer (None: the model parsed it to the right label)
ROWS = [
    ("r1", "good film", "pos", None),
    ("r2", "bad film", "neg", None),
    ("r3", "great plot", "pos", "hmm, hard to say"),
    ("r4", "dull plot", "neg", None),
    ("r5", "fun acting", "pos", "<b>no idea</b>"),
    ("r6", "awful acting", "neg", None),
    ("r7", "love it", "pos", None),
    ("r8", "hate it", "neg", "I would rather not answer"),
]
MODEL = """
RAW = {raw!r}
LABELS = {labels!r}
def answer(batch):
    out = []
    for x in batch:
        if RAW[x] is None:
            out.append({{"label": LABELS[x], "text": LABELS[x]}})
        else:
            out.append({{"label": "{unparseable}", "text": RAW[x]}})
    return out
def plain(batch):
    return [LABELS[x] for x in batch]
"""


def _suite(tmp_path: Path, fn: str, gates: list[str]) -> dict[str, object]:
    data = tmp_path / "reviews.csv"
    with data.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label"])
        w.writerows(r[:3] for r in ROWS)
    mod = tmp_path / "lm_models.py"
    mod.write_text(
        MODEL.format(
            raw={t: raw for _, t, _, raw in ROWS},
            labels={t: lbl for _, t, lbl, _ in ROWS},
            unparseable=UNPARSEABLE_LABEL,
        ),
        encoding="utf-8",
    )
    return {
        "data": {"path": str(data), "id": "id", "input": "text", "label": "label"},
        "models": {"candidate": f"python:{mod}:{fn}"},
        "engine": {"cache": None, "progress": False},
        "checks": {"performance": {"positive_label": "pos", "n_bootstrap": 100}},
        "gates": gates,
    }


def test_unparseable_rate_is_a_wilson_interval_with_the_raw_answers(tmp_path: Path) -> None:
    suite = suite_from_dict(
        _suite(tmp_path, "answer", ["performance.unparseable_rate.upper <= 0.9"])
    )
    report = evaluate(suite, write=False, progress=False)
    perf = report.result("performance")
    est = perf.metrics["unparseable_rate"]
    lo, hi = proportion_confint(3, 8, alpha=0.05, method="wilson")
    assert est.value == pytest.approx(3 / 8)
    assert (est.lower, est.upper) == (pytest.approx(lo, abs=1e-9), pytest.approx(hi, abs=1e-9))
    assert est.n == 8 and est.method.lower().startswith("wilson")
    # unparseable answers count as wrong
    assert perf.metrics["accuracy"].value == pytest.approx(5 / 8)
    # binary metrics stay defined: an unparseable answer is the class it was not
    assert perf.metrics["recall"].value == pytest.approx(2 / 4)  # r3, r5 missed
    assert perf.metrics["specificity"].value == pytest.approx(3 / 4)  # r8 missed
    shown = {e["id"]: e["output"] for e in perf.examples if e.get("kind") == "unparseable"}
    assert shown == {
        "r3": "hmm, hard to say",
        "r5": "<b>no idea</b>",
        "r8": "I would rather not answer",
    }
    assert any("3 of 8 answers named no label" in f for f in perf.flags)
    assert [g.passed for g in report.gates] == [True]


def test_a_plain_classifier_has_no_unparseable_rate(tmp_path: Path) -> None:
    suite = suite_from_dict(_suite(tmp_path, "plain", ["performance.accuracy.value >= 0.5"]))
    perf = evaluate(suite, write=False, progress=False).result("performance")
    assert "unparseable_rate" not in perf.metrics
    assert not [e for e in perf.examples if e.get("kind") == "unparseable"]


def test_the_gate_path_is_known_to_the_loader(tmp_path: Path) -> None:
    from assay.checks._performance import PerformanceCheck, PerformanceConfig

    suite = suite_from_dict(_suite(tmp_path, "answer", []))
    assert "unparseable_rate" in PerformanceCheck.gate_patterns(PerformanceConfig(), suite)
