"""examples/drift: prepare the ACS data, then drift, CBPE and fairness per year (into tmp_path)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

import assay.drift

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "drift"

if importlib.util.find_spec("nannyml") is None:
    pytest.skip("the ACS employment data ship with the nannyml package", allow_module_level=True)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"drift_example_{name}", EXAMPLE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_drift_example_runs_and_estimates_each_year(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not hasattr(assay.drift, "detect_drift"):
        pytest.skip("needs assay.drift.detect_drift (the drift library)")
    prepare, monitor = _load("prepare"), _load("monitor")
    monkeypatch.setattr(prepare, "WORK", tmp_path)
    monkeypatch.setattr(monitor, "WORK", tmp_path)
    prepare.main()
    monitor.main()
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "drift_example.json").read_text())
    by_year = report["performance"]["by_year"]
    years = [w for w in by_year["windows"] if w["n"] > 0]
    assert [w["label"][:4] for w in years] == ["2016", "2017", "2018"]
    assert by_year["assumptions"][0].startswith("no concept drift")
    for w in years:
        est, real = w["estimated"]["accuracy"], w["realised"]["accuracy"]
        assert est["lower"] < est["value"] < est["upper"]
        assert abs(est["value"] - real["value"]) < 0.02  # a year of ACS: close, not identical
        assert w["n_labelled"] == w["n"]
    assert len(report["drift_by_year"]) == 3
    assert [f["year"] for f in report["fairness_by_sex"]] == [2016, 2017, 2018]
    assert "2. Performance without labels" in out
