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
