from __future__ import annotations

import math

import pytest

from assay._runner import suite_from_dict
from assay._runner._gates import evaluate_gates, parse_gate
from assay.errors import ConfigError
from assay.report import CheckResult
from assay.stats import Estimate

BASE = {
    "data": {"path": "test.csv", "input": "text", "label": "label", "slices": ["genre"]},
    "models": {"candidate": "python:mod:f"},
    "checks": {"performance": {}, "slices": {}},
}


def est(v: float, lo: float, hi: float) -> Estimate:
    return Estimate(v, lo, hi, 0.95, "wilson", 100)


def test_parse_gate_forms() -> None:
    g = parse_gate("performance.f1_macro.lower >= 0.80")
    assert (g.check, g.metric, g.attr, g.op, g.threshold) == (
        "performance",
        "f1_macro",
        "lower",
        ">=",
        0.8,
    )
    g = parse_gate("performance.accuracy>0.85")
    assert (g.metric, g.attr, g.op) == ("accuracy", "value", ">")
    g = parse_gate("slices.genre.*.accuracy.upper <= 1e-1")
    assert (g.metric, g.attr, g.threshold) == ("genre.*.accuracy", "upper", 0.1)


@pytest.mark.parametrize(
    "bad", ["performance.f1 => 0.8", "accuracy >= 0.8", "performance.f1 >= high", ""]
)
def test_malformed_gate_explains_the_form(bad: str) -> None:
    with pytest.raises(ConfigError, match="gate|threshold|metric"):
        parse_gate(bad)


def test_unknown_metric_path_lists_valid_paths_at_load() -> None:
    with pytest.raises(ConfigError) as e:
        suite_from_dict({**BASE, "gates": ["performance.f1_macr.lower >= 0.8"]})
    msg = str(e.value)
    assert "gates[0]" in msg and "did you mean performance.f1_macro?" in msg
    assert "    performance.roc_auc\n" in msg


def test_gate_on_check_not_in_suite() -> None:
    with pytest.raises(ConfigError, match="does not run"):
        suite_from_dict({**BASE, "gates": ["fairness.sex.demographic_parity_ratio.lower >= 0.8"]})


def test_valid_gates_load() -> None:
    suite = suite_from_dict(
        {
            **BASE,
            "gates": [
                "performance.f1_macro.lower >= 0.8",
                "slices.genre.*.accuracy.lower >= 0.7",
                "slices.length.*.f1_macro >= 0.6",
                "performance.per_class.fresh.recall.lower >= 0.5",
            ],
        }
    )
    assert len(suite.gates) == 4


def result(check: str, metrics: dict[str, Estimate], **tables: object) -> CheckResult:
    return CheckResult(
        check=check, model="candidate", dataset="test", n=100, metrics=metrics, tables=dict(tables)
    )


def test_evaluate_bounds_and_values() -> None:
    perf = result(
        "performance", {"f1_macro": est(0.85, 0.81, 0.89), "accuracy": est(0.9, 0.86, 0.93)}
    )
    out = evaluate_gates(
        [
            "performance.f1_macro.lower >= 0.80",
            "performance.f1_macro.lower >= 0.82",
            "performance.accuracy >= 0.9",
            "performance.accuracy.upper < 0.93",
        ],
        [perf],
        model="candidate",
    )
    assert [o.passed for o in out] == [True, False, True, False]
    assert out[1].observed == pytest.approx(0.81)
    assert out[1].threshold == 0.82


def test_nan_metric_fails_with_reason() -> None:
    perf = result("performance", {"mcc": Estimate(math.nan, math.nan, math.nan, 0.95, "none", 10)})
    (o,) = evaluate_gates(["performance.mcc >= 0"], [perf], model="candidate")
    assert not o.passed and "undefined" in o.detail


def test_wildcard_all_must_pass_and_too_small_are_skipped() -> None:
    sl = result(
        "slices",
        {
            "genre.drama.accuracy": est(0.8, 0.75, 0.85),
            "genre.horror.accuracy": est(0.7, 0.6, 0.78),
            "genre.tiny.accuracy": est(0.5, 0.1, 0.9),
        },
        too_small_keys=["genre.tiny.accuracy"],
    )
    (ok, bad) = evaluate_gates(
        ["slices.genre.*.accuracy.lower >= 0.55", "slices.genre.*.accuracy.lower >= 0.7"],
        [sl],
        model="candidate",
    )
    assert ok.passed and "tiny" in ok.detail and len(ok.matches) == 2
    assert not bad.passed and "horror" in bad.detail and bad.observed == pytest.approx(0.6)


def test_no_result_for_model_fails() -> None:
    (o,) = evaluate_gates(["performance.accuracy >= 0.5"], [], model="candidate")
    assert not o.passed and "no result" in o.detail
