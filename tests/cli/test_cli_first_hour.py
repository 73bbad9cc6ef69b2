"""The first hour at the command line: --version, flags read as flags, exit codes in --help,
``run --junit --markdown``, and ``compare`` of a report with itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from test_cli import make_project
from typer.testing import CliRunner

from assay._cli.main import app
from assay._version import __version__

runner = CliRunner()


def test_version() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"assay {__version__}"


def test_help_shows_flags_plainly_and_every_exit_code() -> None:
    top = runner.invoke(app, ["--help"], terminal_width=200).output
    assert "3 a comparison is inconclusive" in top and "2 a usage" in top
    run = runner.invoke(app, ["run", "--help"], terminal_width=200).output
    assert "--trust " in run and "<bool>" not in run
    assert "--seed <int>" in run and "--junit" in run and "--markdown" in run


def _suite(tmp_path: Path) -> Path:
    make_project(tmp_path)
    suite = {
        "data": {"path": "test.csv", "label": "target",
                 "input": ["mean_radius", "mean_texture", "mean_smoothness"]},
        "models": {"candidate": "sklearn:model.joblib"},
        "trust": True,
        "engine": {"cache": None},
        "gates": ["performance.accuracy.lower >= 0.5"],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def test_run_writes_junit_and_markdown(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    res = runner.invoke(app, ["run", str(suite), "--out", str(tmp_path / "out"), "--quiet",
                              "--junit", str(tmp_path / "ci" / "gates.xml"),
                              "--markdown", str(tmp_path / "summary.md")])
    assert res.exit_code == 0, res.output
    assert "<testsuite" in (tmp_path / "ci" / "gates.xml").read_text()
    assert "PASS" in (tmp_path / "summary.md").read_text()
    assert "gates.xml" in res.output and "summary.md" in res.output


def test_a_report_compared_with_itself_is_identical(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(suite), "--out", str(out), "--quiet"]).exit_code == 0
    report = str(out / "report.json")
    res = runner.invoke(app, ["compare", report, report], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "identical" in res.output and "±0.0000" not in res.output


@pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
def test_run_prints_the_mlflow_run_and_where_to_see_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    suite = _suite(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = runner.invoke(app, ["run", str(suite), "--out", str(tmp_path / "out"), "--quiet",
                              "--mlflow", uri], terminal_width=400)
    assert res.exit_code == 0, res.output
    m = re.search(r"MLflow run ([0-9a-f]{32}): mlflow ui --backend-store-uri (\S+)", res.output)
    assert m is not None and m.group(2).rstrip(",") == uri, res.output
