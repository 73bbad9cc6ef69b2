"""The Markdown summary: verdict, gates, comparison, metrics, findings; safe for a PR comment."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assay.checks._compare import to_check_result
from assay.compare import CompareOptions, PairedPredictions, compare_paired
from assay.report import CheckResult, Report, render_markdown, write_markdown


def comparison_result(better: bool) -> CheckResult:
    """A compare result for a candidate clearly better (or worse) than the baseline."""
    rng = np.random.default_rng(1)
    n = 1000
    y = rng.integers(0, 2, n)
    good = np.where(rng.random(n) < 0.9, y, 1 - y)
    bad = np.where(rng.random(n) < 0.7, y, 1 - y)
    lab = np.array(["negative", "positive"])
    cand, base = (good, bad) if better else (bad, good)
    p = PairedPredictions(
        "classification", [str(i) for i in range(n)], lab[y], lab[cand], lab[base], list(lab)
    )
    c = compare_paired(
        p,
        CompareOptions(default_margin=0.01),
        candidate="candidate",
        baseline="baseline",
        dataset="reviews",
    )
    return to_check_result(c)


def test_markdown_summary(sample_report: Report, tmp_path: Path) -> None:
    sample_report.results.append(comparison_result(better=False))
    md = render_markdown(sample_report)
    assert md.startswith("## ❌ FAIL — sentiment-release-check")
    assert "3 of 4 gates failed" in md
    assert "| ❌ | `performance.roc_auc.lower >= 0.97` |" in md  # code spans are not HTML-escaped
    assert "### ❌ Comparison: **NO-GO** — candidate against baseline" in md
    assert "| accuracy |" in md and "| worse |" in md
    lines = md.splitlines()
    head = lines.index("### Metrics (95% intervals)")
    assert lines[head + 2].startswith("| metric | baseline · reviews | candidate · reviews")
    acc = sample_report.result("performance", "candidate").metrics["accuracy"]  # type: ignore[union-attr]
    assert f"{acc.value:.3f} [{acc.lower:.3f}, {acc.upper:.3f}]" in md
    assert "3 of 743 rows had a failed model call (exclude)" in md
    assert "<script>" not in md and "<html>" not in md  # user text never becomes markup
    assert write_markdown(sample_report, tmp_path / "s.md").read_text() == md


def test_markdown_without_gates_escapes_pipes(sample_report: Report) -> None:
    sample_report.gates = []
    sample_report.notes = ["a | b\nsecond line"]
    md = render_markdown(sample_report)
    assert md.startswith("## ⚠️ NO GATES")
    assert "- a \\| b second line" in md


def test_markdown_headline_rows_are_the_console_summary_metrics(sample_report: Report) -> None:
    """The Markdown table shows the same metrics as the terminal summary (the catalogue's summary
    metrics); it used to leave out log loss and MAPE."""
    from assay.report._console import PRIMARY

    md = render_markdown(sample_report)
    rows = {line.split(" | ")[0].lstrip("| ") for line in md.splitlines() if line.startswith("| ")}
    present = {k for r in sample_report.results if r.check == "performance" for k in r.metrics}
    for name in (*PRIMARY["classification"], *PRIMARY["regression"]):
        assert (name in rows) == (name in present), name
    assert "log_loss" in rows
