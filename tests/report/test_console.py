"""The Rich console summary."""

from __future__ import annotations

from rich.console import Console

from assay.report._console import print_summary
from assay.report._schema import Report


def _text(report: Report, **kwargs: object) -> str:
    console = Console(record=True, width=120)
    print_summary(report, console=console, **kwargs)  # type: ignore[arg-type]
    return console.export_text()


def test_verdict_gates_metrics_and_errors(shared_report: Report) -> None:
    out = _text(shared_report)
    assert "FAIL" in out and "3 of 4 gates failed" in out
    for g in shared_report.gates:
        assert g.gate in out
    assert out.count("✓") == 1 and out.count("✗") == 3
    for model in ("candidate", "baseline", "topic-clf", "price-reg"):
        assert model in out
    assert "0.882 [0.859, 0.906]" in out  # candidate's accuracy with its interval
    assert "undefined" in out  # the regression's MAPE (NaN) and the gate observed as None
    # rows, with the first cause (the count said "requests" and the cause was only in the JSON)
    flat = " ".join(out.split())  # the console wraps long lines
    assert "3 of 743 rows had a failed model call (excluded from metrics); first: TimeoutError" in flat
    # and the engine's own count of distinct calls, failures and retries
    assert "calls 1283 asked, 1200 from the cache · 3 failed after retries · 0 retries" in flat
    assert "genre=horror" in out


def test_primary_model_comes_first(shared_report: Report) -> None:
    out = _text(shared_report)
    assert out.index("candidate") < out.index("baseline")


def test_pass_and_no_gates(shared_report: Report) -> None:
    passing = shared_report.model_copy(update={"gates": shared_report.gates[:1]})
    assert "PASS" in _text(passing)
    assert "NO GATES" in _text(shared_report.model_copy(update={"gates": []}))


def test_paths_are_listed(shared_report: Report) -> None:
    out = _text(shared_report, paths={"html": "out/report.html", "json": "out/report.json"})
    assert "out/report.html" in out and "out/report.json" in out
    assert "out/r.xml" in _text(shared_report, paths=["out/r.xml"])


def test_markup_in_user_text_is_not_interpreted(shared_report: Report) -> None:
    gate = shared_report.gates[0].model_copy(update={"gate": "[bold]performance.x[/bold] >= 1"})
    out = _text(shared_report.model_copy(update={"gates": [gate]}))
    assert "[bold]performance.x[/bold] >= 1" in out
