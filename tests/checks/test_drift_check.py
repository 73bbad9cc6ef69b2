"""The drift check in a suite: ACS 2015 as reference, a later year as current, a real model."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml
from scipy import stats
from sklearn.linear_model import LogisticRegression

import assay
from assay._runner import load_suite
from assay.errors import ConfigError
from assay.report import Report, render_html

ACS = Path(stats.__file__).parents[2] / "nannyml" / "datasets" / "data"
FEATURES = ["AGEP", "SCHL", "MAR", "SEX", "RAC1P", "DIS"]


@pytest.fixture(scope="module")
def acs_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ACS / "employment_MA_reference.pq").exists():
        pytest.skip("nannyml's ACS files are not installed")
    d = tmp_path_factory.mktemp("acs")
    ref = pd.read_parquet(ACS / "employment_MA_reference.pq").iloc[:3000]
    cur = pd.read_parquet(ACS / "employment_MA_analysis.pq")
    cur = cur[cur["year"] == cur["year"].max()].iloc[:3000].copy()
    cur["employed"] = (cur["predicted_probability"] > 0.5).astype(int)  # any label will do
    cur["AGEP"] = cur["AGEP"] + 8.0  # an older population: drift the check must find
    keep = ["id", *FEATURES, "employed"]
    ref[keep].to_parquet(d / "ref.parquet")
    cur[keep].to_parquet(d / "cur.parquet")
    x = ref[FEATURES].astype(float)
    model = LogisticRegression(max_iter=2000).fit(x, ref["employed"])
    joblib.dump(model, d / "m.joblib")
    suite = {
        "data": {
            "current": {
                "path": "cur.parquet",
                "id": "id",
                "input": FEATURES,
                "label": "employed",
            },
            "reference": {
                "path": "ref.parquet",
                "id": "id",
                "input": FEATURES,
                "label": "employed",
            },
        },
        "models": {"candidate": "sklearn:m.joblib"},
        "trust": True,
        "checks": {"drift": {"dataset": "current", "reference": "reference", "window_size": 1000}},
        "engine": {"progress": False, "cache": None},
        "gates": [
            "drift.share_drifted.upper <= 0.2",
            "drift.columns.SEX.psi <= 0.2",
        ],
    }
    (d / "s.yaml").write_text(yaml.safe_dump(suite))
    return d


def test_drift_check_finds_the_shift_and_gates_on_it(acs_suite: Path) -> None:
    report = assay.evaluate(acs_suite / "s.yaml", write=False, progress=False)
    r = report.result("drift")
    assert r is not None
    drift = r.tables["drift"]
    cols = {c["column"]: c for c in drift["columns"]}
    assert cols["AGEP"]["drifted"] and cols["AGEP"]["method"] == "wasserstein"
    assert cols["prediction"]["role"] == "prediction"
    assert cols["employed"]["role"] == "label"
    assert "probability_1" in cols
    assert "id" not in cols
    assert len(drift["windows"]) == 3
    m = r.metrics
    assert m["columns.AGEP.drifted"].value == 1.0
    assert m["share_drifted"].value == pytest.approx(
        sum(c["drifted"] for c in drift["columns"] if c["role"] == "feature")
        / sum(c["tested"] for c in drift["columns"] if c["role"] == "feature")
    )
    gates = {g.gate: g for g in report.gates}
    share_gate = gates["drift.share_drifted.upper <= 0.2"]
    assert share_gate.passed == (m["share_drifted"].upper <= 0.2)
    assert gates["drift.columns.SEX.psi <= 0.2"].passed
    # the report renders a drift section and round-trips through JSON
    back = Report.model_validate_json(report.to_json())
    html = render_html(back)
    assert 'id="check-drift"' in html and "AGEP" in html


def test_reference_from_a_file_and_bad_reference(acs_suite: Path, tmp_path: Path) -> None:
    suite = yaml.safe_load((acs_suite / "s.yaml").read_text())
    del suite["data"]["reference"]
    suite["checks"]["drift"]["reference"] = "ref.parquet"
    suite["gates"] = []
    (acs_suite / "file.yaml").write_text(yaml.safe_dump(suite))
    report = assay.evaluate(acs_suite / "file.yaml", write=False, progress=False)
    r = report.result("drift")
    assert r is not None and r.tables["reference"] == "drift_reference"
    assert "drift_reference" in {d["name"] for d in report.datasets}
    suite["checks"]["drift"]["reference"] = "nowhere.parquet"
    (acs_suite / "bad.yaml").write_text(yaml.safe_dump(suite))
    with pytest.raises(ConfigError, match=r"checks.drift.reference: 'nowhere.parquet' is neither"):
        load_suite(acs_suite / "bad.yaml")


def test_unknown_gate_path_lists_drift_paths(acs_suite: Path) -> None:
    suite = yaml.safe_load((acs_suite / "s.yaml").read_text())
    suite["gates"] = ["drift.share_drifting <= 0.2"]
    (acs_suite / "gate.yaml").write_text(yaml.safe_dump(suite))
    with pytest.raises(ConfigError, match="share_drifted"):
        load_suite(acs_suite / "gate.yaml")


def test_html_drift_section_has_tables_and_figures(acs_suite: Path, tmp_path: Path) -> None:
    report = assay.evaluate(acs_suite / "s.yaml", write=False, progress=False)
    html = render_html(report)
    section = html[html.index('id="check-drift"') :]
    assert "Rule: the dataset drifts when at least 50%" in section
    assert 'class="drift-columns"' in section and 'class="drift-windows"' in section
    assert "distribution of AGEP" in section and "AGEP by window" in section
    assert "Data quality" in section


def test_markdown_junit_and_console_carry_the_drift_result(acs_suite: Path) -> None:
    from rich.console import Console

    from assay.report._console import print_summary
    from assay.report._junit import render_junit
    from assay.report._markdown import render_markdown

    report = assay.evaluate(acs_suite / "s.yaml", write=False, progress=False)
    md = render_markdown(report)
    assert "drift.share_drifted.upper <= 0.2" in md and "**drift** · candidate: dataset drift" in md
    assert 'classname="assay.drift"' in render_junit(report)
    console = Console(record=True, width=200)
    print_summary(report, console=console)
    text = console.export_text()
    assert "drift" in text and "feature columns drift (dataset drift)" in text


def _performance_suite(d: Path, name: str, *, flip: slice | None = None, **drift: object) -> Path:
    """ACS: a model trained on part of 2015, the rest of 2015 as reference (labelled), a random
    sample of 2018 as current with its real labels (``flip``: those rows' labels inverted)."""
    if not (d / "m.joblib").exists():
        ref_all = pd.read_parquet(ACS / "employment_MA_reference.pq").sample(9000, random_state=0)
        train, ref = ref_all.iloc[:6000], ref_all.iloc[6000:]
        cur = pd.read_parquet(ACS / "employment_MA_analysis.pq")
        cur = cur[cur["year"] == 2018].sample(3000, random_state=0)
        labels = pd.read_parquet(ACS / "employment_MA_analysis_target.pq")
        cur = cur.merge(labels, on="id")  # keeps the sample's order
        keep = ["id", *FEATURES, "employed"]
        ref[keep].to_parquet(d / "ref.parquet")
        cur[keep].to_parquet(d / "cur.parquet")
        model = LogisticRegression(max_iter=2000).fit(
            train[FEATURES].astype(float), train["employed"]
        )
        joblib.dump(model, d / "m.joblib")
    current = "cur.parquet"
    if flip is not None:
        cur = pd.read_parquet(d / "cur.parquet")
        cur.iloc[flip, cur.columns.get_loc("employed")] = 1 - cur["employed"].iloc[flip]
        current = f"{name}.parquet"
        cur.to_parquet(d / current)
    spec = {"id": "id", "input": FEATURES, "label": "employed"}
    suite = {
        "data": {
            "current": {"path": current, **spec},
            "reference": {"path": "ref.parquet", **spec},
        },
        "models": {"candidate": "sklearn:m.joblib"},
        "trust": True,
        "checks": {"drift": {"dataset": "current", "reference": "reference", **drift}},
        "engine": {"progress": False, "cache": None},
        "gates": [
            "drift.estimated.accuracy.lower >= 0.70",
            "drift.estimated.accuracy.lower >= 0.78",
            "drift.performance.n_alerts <= 0",
        ],
    }
    (d / f"{name}.yaml").write_text(yaml.safe_dump(suite))
    return d / f"{name}.yaml"


@pytest.fixture(scope="module")
def acs_performance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ACS / "employment_MA_reference.pq").exists():
        pytest.skip("nannyml's ACS files are not installed")
    d = tmp_path_factory.mktemp("acs_performance")
    _performance_suite(d, "perf", window_size=1000)
    return d


def test_drift_check_estimates_performance_per_window_with_gates(acs_performance: Path) -> None:
    report = assay.evaluate(acs_performance / "perf.yaml", write=False, progress=False)
    r = report.result("drift")
    assert r is not None
    perf = r.tables["performance"]
    assert (
        perf["window_rule"] == r.tables["drift"]["window_rule"] == "tumbling windows of 1000 rows"
    )
    assert [w["label"] for w in perf["windows"]] == [
        w["label"] for w in r.tables["drift"]["windows"]
    ]
    assert perf["overall"]["n"] == 3000 and perf["n_reference"] == 3000
    m = r.metrics
    for metric in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        e = m[f"estimated.{metric}"]
        assert e.method == "cbpe" and e.n == 3000
        assert 0.5 < e.lower < e.value < e.upper < 1.0
        assert m[f"realised.{metric}"].defined
        worst = m[f"windows.worst_estimated.{metric}"]
        assert worst.n == 1000
        assert worst.value == min(w["estimated"][metric]["value"] for w in perf["windows"])
    # a logistic regression on six ACS features: about 0.76 accuracy, realised about the same
    acc = m["estimated.accuracy"]
    assert 0.70 < acc.lower < 0.78
    assert acc.contains(m["realised.accuracy"].value)
    gates = {g.gate: g for g in report.gates}
    assert gates["drift.estimated.accuracy.lower >= 0.70"].passed
    assert not gates["drift.estimated.accuracy.lower >= 0.78"].passed
    assert m["performance.n_alerts"].n == 3
    assert gates["drift.performance.n_alerts <= 0"].passed == (m["performance.n_alerts"].value == 0)


def test_flipped_labels_in_a_window_raise_a_performance_alert(acs_performance: Path) -> None:
    clean = assay.evaluate(acs_performance / "perf.yaml", write=False, progress=False)
    path = _performance_suite(acs_performance, "flipped", flip=slice(0, 1000), window_size=1000)
    flipped = assay.evaluate(path, write=False, progress=False)
    a, b = clean.result("drift"), flipped.result("drift")
    assert a is not None and b is not None
    wa, wb = a.tables["performance"]["windows"], b.tables["performance"]["windows"]
    # the estimate needs no labels: flipping them leaves it exactly as it was
    assert [w["estimated"] for w in wa] == [w["estimated"] for w in wb]
    assert "accuracy" not in wa[0]["disagree"]
    assert "accuracy" in wb[0]["disagree"] and wb[0]["alert"]
    assert wb[0]["realised"]["accuracy"]["value"] == pytest.approx(
        1 - wa[0]["realised"]["accuracy"]["value"]
    )
    assert wb[1:] == wa[1:]
    n_alerts = b.metrics["performance.n_alerts"]
    assert n_alerts.value == a.metrics["performance.n_alerts"].value + (not wa[0]["alert"])
    assert any(f.startswith("performance alert, rows 1-1000: ") for f in b.flags)
    assert not {g.gate: g for g in flipped.gates}["drift.performance.n_alerts <= 0"].passed
    # the HTML draws estimate, interval and realised per window; the console names them
    html = render_html(flipped)
    section = html[html.index('id="check-drift"') :]
    assert 'class="drift-performance"' in section
    assert "estimated and realised accuracy by window" in section
    assert "realised outside" in section
    from rich.console import Console

    from assay.report._console import print_summary

    console = Console(record=True, width=250)
    print_summary(flipped, console=console)
    text = console.export_text()
    assert "estimated accuracy 0." in text and "realised outside the estimate in" in text


def test_performance_estimate_can_be_turned_off_and_says_why_it_is_missing(
    acs_performance: Path,
) -> None:
    path = _performance_suite(acs_performance, "off", estimate_performance=False)
    with pytest.raises(ConfigError, match="no metric drift.estimated.accuracy"):
        load_suite(path)
    suite = yaml.safe_load(path.read_text())
    suite["gates"] = []
    path.write_text(yaml.safe_dump(suite))
    r = assay.evaluate(path, write=False, progress=False).result("drift")
    assert r is not None and "performance" not in r.tables
    assert not any(k.startswith(("estimated.", "realised.")) for k in r.metrics)
    # a model without probabilities: the gate fails and says why
    path = _performance_suite(acs_performance, "noproba")
    suite = yaml.safe_load(path.read_text())
    suite["models"] = {"candidate": "sklearn:svc.joblib"}
    from sklearn.svm import LinearSVC

    ref = pd.read_parquet(acs_performance / "ref.parquet")
    joblib.dump(
        LinearSVC().fit(ref[FEATURES].astype(float), ref["employed"]),
        acs_performance / "svc.joblib",
    )
    path.write_text(yaml.safe_dump(suite))
    report = assay.evaluate(path, write=False, progress=False)
    r = report.result("drift")
    assert r is not None and "performance" not in r.tables
    assert any(f.startswith("no performance estimate: ") for f in r.flags)
    gate = report.gates[0]
    assert not gate.passed and "was not computed" in gate.detail


def test_performance_is_estimated_on_current_data_that_has_no_labels_yet(
    acs_performance: Path,
) -> None:
    # CBPE's point: today's traffic, before its labels arrive (the current file has no label
    # column at all); the estimate stands alone, with no realised values and no alerts
    d = acs_performance
    cur = pd.read_parquet(d / "cur.parquet").drop(columns=["employed"])
    cur.to_parquet(d / "unlabelled.parquet")
    suite = yaml.safe_load((d / "perf.yaml").read_text())
    suite["data"]["current"] = {"path": "unlabelled.parquet", "id": "id", "input": FEATURES}
    suite["gates"] = ["drift.estimated.accuracy.lower >= 0.70"]
    (d / "unlabelled.yaml").write_text(yaml.safe_dump(suite))
    labelled = assay.evaluate(d / "perf.yaml", write=False, progress=False).result("drift")
    report = assay.evaluate(d / "unlabelled.yaml", write=False, progress=False)
    r = report.result("drift")
    assert report.passed
    e, same = r.metrics["estimated.accuracy"], labelled.metrics["estimated.accuracy"]
    assert e.n == 3000 and e.lower < e.value < e.upper
    assert abs(e.value - same.value) < 1e-12  # the labels never enter the estimate
    assert "realised.accuracy" not in r.metrics
    assert "performance.n_alerts" not in r.metrics  # nothing to compare with yet
