"""The decision on planted comparisons, refusals, two Reports and the ``assay compare`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from planted import per_example, planted
from typer.testing import CliRunner

from assay._cli.main import app
from assay._runner import compare_reports
from assay.compare import CompareOptions, compare_paired
from assay.errors import ConfigError, ReportError
from assay.report import CheckResult, Report
from assay.stats import Estimate


def test_planted_improvement_is_go() -> None:
    c = compare_paired(planted("better"), CompareOptions(default_margin=0.01))
    assert c.verdict == "go"
    assert {m.status for m in c.metrics} == {"better"}
    assert all(m.difference.lower > 0 for m in c.metrics)
    assert [m.metric for m in c.metrics] == ["accuracy", "f1_macro", "roc_auc"]


def test_planted_regression_is_no_go_with_reasons() -> None:
    c = compare_paired(planted("worse"), CompareOptions(default_margin=0.01))
    assert c.verdict == "no-go"
    assert {m.status for m in c.metrics} == {"worse"}
    assert any("accuracy is worse than the baseline" in r for r in c.reasons)


def test_the_same_model_is_identical_not_inconclusive() -> None:
    # Identical answers: the difference is exactly 0 with no spread, at any margin.
    for opts in (None, CompareOptions(default_margin=0.01)):
        c = compare_paired(planted("same"), opts)
        assert c.verdict == "go"
        assert all(m.difference.value == 0 for m in c.metrics)
        assert c.reasons[0].startswith("identical: the two models give the same answers")
        assert not any("±0.0000" in r for r in c.reasons)


def test_inconclusive_advice_names_where_a_margin_goes() -> None:
    p = planted("similar", n=200, seed=5)
    assert "checks.compare.margins" in " ".join(compare_paired(p).reasons)
    cli = compare_paired(p, where="assay compare").reasons
    assert "--margin METRIC=VALUE" in " ".join(cli)


def test_small_sample_is_inconclusive_with_sample_size_advice() -> None:
    c = compare_paired(planted("similar", n=200, seed=3), CompareOptions(default_margin=0.01))
    assert c.verdict == "inconclusive"
    m = c.metrics[0]
    assert m.n_for_margin > 200
    assert "examples would settle it" in " ".join(c.reasons)


def test_require_improvement_and_unknown_metrics() -> None:
    opts = CompareOptions(default_margin=0.5, require_improvement=True)
    assert compare_paired(planted("same"), opts).verdict == "inconclusive"
    with pytest.raises(ConfigError, match="'rmse' cannot be compared for classification"):
        compare_paired(planted("same"), CompareOptions(metrics=["rmse"]))
    with pytest.raises(ConfigError, match="margins: 'mcc' is not a compared metric"):
        compare_paired(planted("same"), CompareOptions(margins={"mcc": 0.1}))


def _report(table: dict, *, model: str = "m", labels: list[str] | None = None) -> Report:
    r = CheckResult(
        check="performance",
        model=model,
        dataset="test",
        n=len(table["id"]),
        metrics={"accuracy": Estimate(0.5, 0.4, 0.6)},
        tables={"task": "classification", "per_example": table},
    )
    return Report(
        assay_version="0",
        suite_name="s",
        suite={},
        created_at="t",
        duration_s=0,
        seed=0,
        level=0.95,
        datasets=[{"name": "test", "labels": labels or ["neg", "pos"]}],
        models=[{"name": model}],
        environment={},
        results=[r],
    )


def test_two_reports_are_compared_example_by_example(tmp_path: Path) -> None:
    p = planted("better", n=800)
    cand = _report(per_example(p, "candidate"), model="candidate")
    # The baseline's rows in another order: alignment is by id.
    t = per_example(p, "baseline")
    order = list(reversed(range(p.n)))
    base = _report(
        {k: ([v[i] for i in order] if isinstance(v, list) else v) for k, v in t.items()},
        model="production",
    )
    c = compare_reports(
        cand.save(tmp_path / "c.json"),
        base.save(tmp_path / "b.json"),
        CompareOptions(default_margin=0.01),
    )
    direct = compare_paired(p, CompareOptions(default_margin=0.01))
    assert c.verdict == direct.verdict == "go"
    for a, b in zip(c.metrics, direct.metrics):
        assert a.difference.value == pytest.approx(b.difference.value, abs=1e-12)
    assert c.baseline == "production"


def test_different_ids_are_refused_with_counts_and_examples() -> None:
    p = planted("better", n=50)
    t = per_example(p, "baseline")
    t["id"] = [f"x{i}" if i < 3 else v for i, v in enumerate(t["id"])]
    with pytest.raises(ReportError) as e:
        compare_reports(_report(per_example(p, "candidate")), _report(t))
    msg = str(e.value)
    assert "3 of 50 ids only in candidate (e.g. id0, id1, id2)" in msg
    assert "3 of 50 only in baseline (e.g. x0, x1, x2)" in msg


def test_different_labels_are_refused() -> None:
    p = planted("better", n=50)
    with pytest.raises(ReportError, match="different label sets: 1 only in candidate"):
        compare_reports(
            _report(per_example(p, "candidate"), labels=["neg", "pos", "meh"]),
            _report(per_example(p, "baseline")),
        )
    t = per_example(p, "baseline")
    t["y_true"] = ["pos" if v == "neg" else "neg" for v in t["y_true"]]
    with pytest.raises(ReportError, match="disagree on the true label of 50 of 50 examples"):
        compare_reports(_report(per_example(p, "candidate")), _report(t))


def test_old_reports_without_predictions_are_refused() -> None:
    rep = _report(per_example(planted("same", n=10), "candidate"))
    del rep.results[0].tables["per_example"]
    with pytest.raises(ReportError, match="keeps no per-example predictions"):
        compare_reports(rep, rep)


@pytest.mark.parametrize(("kind", "code"), [("better", 0), ("worse", 1)])
def test_cli_compare_exit_codes_and_outputs(tmp_path: Path, kind: str, code: int) -> None:
    p = planted(kind, n=1500)  # type: ignore[arg-type]
    c = _report(per_example(p, "candidate"), model="candidate").save(tmp_path / "c.json")
    b = _report(per_example(p, "baseline"), model="prod").save(tmp_path / "b.json")
    res = CliRunner().invoke(
        app,
        [
            "compare",
            str(c),
            str(b),
            "--margin",
            "accuracy=0.01",
            "--html",
            str(tmp_path / "c.html"),
            "--json",
            str(tmp_path / "c.json.out"),
            "--markdown",
            str(tmp_path / "c.md"),
        ],
    )
    assert res.exit_code == code, res.output
    verdict = {"better": "go", "worse": "no-go"}[kind]
    assert json.loads((tmp_path / "c.json.out").read_text())["verdict"] == verdict
    assert f'data-compare-verdict="{verdict}"' in (tmp_path / "c.html").read_text()
    assert f"Comparison: **{verdict.upper()}**" in (tmp_path / "c.md").read_text()
    assert "verdict" in res.output


def test_cli_compare_inconclusive_and_bad_margin(tmp_path: Path) -> None:
    p = planted("similar", n=200, seed=5)
    c = _report(per_example(p, "candidate")).save(tmp_path / "c.json")
    b = _report(per_example(p, "baseline")).save(tmp_path / "b.json")
    res = CliRunner().invoke(app, ["compare", str(c), str(b), "--default-margin", "0.01"])
    assert res.exit_code == 3, res.output
    res = CliRunner().invoke(app, ["compare", str(c), str(b), "--margin", "accuracy"])
    assert res.exit_code == 2 and "expected METRIC=VALUE" in res.output
