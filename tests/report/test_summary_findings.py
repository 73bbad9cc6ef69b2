"""The HTML report's summary and tables: every NO-GO and flag once, by severity; numeric buckets;
the data's leakage findings once; no repeated side-by-side metrics; four-fifths from intervals."""

from __future__ import annotations

import re

import pytest
from test_markdown import comparison_result

from assay.report import CheckResult, GateOutcome, Report
from assay.report._fairness_view import four_fifths_badge
from assay.report._findings import findings
from assay.report._html import render_html
from assay.stats._estimate import Estimate


def _summary(html: str) -> str:
    return html.split('id="summary"', 1)[1].split("</section>", 1)[0]


def _passing(report: Report) -> Report:
    report.gates = [GateOutcome(gate="performance.accuracy.lower >= 0.5", passed=True,
                                observed=0.8, threshold=0.5)]
    return report


def test_an_ungated_finetune_cost_no_go_is_in_the_summary_under_a_pass(
    sample_report: Report,
) -> None:
    report = _passing(sample_report)
    cost = comparison_result(better=False).model_copy(update={"check": "finetune_cost"})
    report.results.append(cost)
    summary = _summary(render_html(report))
    assert 'data-verdict="PASS"' in summary
    assert 'data-severity="no-go"' in summary and 'data-compare-verdict="no-go"' in summary
    assert "1 NO-GO finding below is not gated" in summary
    assert "finetune_cost" in summary and "(not gated)" in summary
    # the NO-GO comes before the flags
    first = re.findall(r'data-severity="([a-z-]+)"', summary)
    assert first[0] == "no-go" and "warning" in first


def test_the_same_finding_from_two_models_appears_once(sample_report: Report) -> None:
    flag = "4 of 300 inputs could not be changed by typos"
    for model in ("candidate", "baseline"):
        sample_report.results.append(
            CheckResult(check="robustness", model=model, dataset="reviews", n=300, flags=[flag])
        )
    found = [f for f in findings(sample_report) if f.text == flag]
    assert len(found) == 1 and found[0].models == ("candidate", "baseline")
    assert _summary(render_html(sample_report)).count(flag) == 1


def test_failed_gates_come_first(sample_report: Report) -> None:
    found = findings(sample_report)
    assert [f.severity for f in found][:3] == ["fail", "fail", "fail"]
    assert found[0].text.startswith("gate failed: performance.roc_auc.lower >= 0.97")


def _slices(values: list[str]) -> CheckResult:
    rows = [{"column": "length", "value": v, "n": 50, "too_small": False, "flagged": False,
             "p_adjusted": 0.5,
             "metrics": {"accuracy": Estimate(0.8, 0.7, 0.9, 0.95, "wilson", 50).to_dict()}}
            for v in values]
    return CheckResult(check="slices", model="candidate", dataset="reviews", n=200,
                       tables={"slices": rows, "min_n": 30})


def test_buckets_sort_numerically(sample_report: Report) -> None:
    sample_report.results = [_slices(["100-250", "12-80", "251-1200", "81-99"])]
    html = render_html(sample_report)
    table = html.split('id="check-slices"', 1)[1]
    order = [table.index(f"<td>{v}</td>") for v in ("12-80", "81-99", "100-250", "251-1200")]
    assert order == sorted(order)


def _leakage(model: str) -> CheckResult:
    return CheckResult(
        check="leakage", model=model, dataset="reviews", n=300,
        tables={"duplicates": {"n_test": 300, "n_train": 900, "n_exact": 4, "n_near": 2,
                               "threshold": 0.8, "shingle": 5}},
        flags=["4 test rows are exact copies of training rows"],
    )


def test_leakage_data_findings_appear_once_not_per_model(sample_report: Report) -> None:
    sample_report.results = [_leakage("candidate"), _leakage("baseline")]
    html = render_html(sample_report)
    section = html.split('id="check-leakage"', 1)[1].split("</section>", 1)[0]
    assert section.count("4 exact · 2 near") == 1
    assert section.count("4 test rows are exact copies") == 1
    assert 'class="muted data-once"' in section
    assert _summary(html).count("4 test rows are exact copies") == 1


def test_per_model_tables_do_not_repeat_the_side_by_side_table(sample_report: Report) -> None:
    html = render_html(sample_report)
    section = html.split('id="check-performance"', 1)[1].split("</section>", 1)[0]
    side, blocks = section.split('<div class="block"', 1)
    assert "Side by side" in side and "Accuracy" in side
    assert 'class="key">accuracy<' not in blocks  # in the side-by-side table only
    assert 'class="key">precision_micro<' in blocks  # what the side-by-side table leaves out


@pytest.mark.parametrize(
    ("lower", "upper", "expected"),
    [(0.82, 0.95, "met"), (0.60, 0.78, "not met"), (0.70, 0.90, "inconclusive")],
)
def test_four_fifths_badge_follows_the_interval(lower: float, upper: float, expected: str) -> None:
    ratio = Estimate((lower + upper) / 2, lower, upper, 0.95, "bootstrap-counts", 500)
    assert four_fifths_badge(ratio) == expected


def _fairness(ratio: Estimate, group_rate: Estimate) -> CheckResult:
    rate = Estimate(0.3, 0.25, 0.35, 0.95, "bootstrap-counts", 200)
    groups = [
        {"name": "a", "n": 200, "metrics": {"selection_rate": rate.to_dict()}},
        {"name": "b", "n": 12, "metrics": {"selection_rate": group_rate.to_dict()}},
    ]
    return CheckResult(
        check="fairness", model="candidate", dataset="reviews", n=212,
        tables={"features": [{"name": "age", "groups": groups, "summaries": {
            "demographic_parity_ratio": ratio.to_dict(),
            "four_fifths": Estimate.point(float(ratio.value >= 0.8)).to_dict()}}]},
    )


def test_a_straddling_ratio_is_inconclusive_not_a_finding(sample_report: Report) -> None:
    ratio = Estimate(0.75, 0.55, 0.95, 0.95, "bootstrap-counts", 212)
    sample_report.results = [_fairness(ratio, Estimate(0.22, 0.1, 0.4, 0.95, "b", 12))]
    html = render_html(sample_report)
    assert 'data-four-fifths="inconclusive"' in html and "four-fifths rule not met" not in html


def test_a_zero_over_zero_ratio_is_explained_not_shown_as_a_finding(
    sample_report: Report,
) -> None:
    zero = Estimate(0.0, 0.0, 0.0, 0.95, "bootstrap-counts", 212)
    sample_report.results = [_fairness(zero, Estimate(0.0, 0.0, 0.0, 0.95, "b", 12))]
    html = render_html(sample_report)
    section = html.split('id="check-fairness"', 1)[1]
    assert 'data-four-fifths="undefined"' in section and "four-fifths rule not met" not in section
    assert "0/0: no finding" in section and "selection_rate is 0 in every resample for b" in section
