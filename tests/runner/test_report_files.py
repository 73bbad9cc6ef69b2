"""``write_report_files``: report.json and report.html are this run's pair, or not there at all."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from assay._runner import write_report_files
from assay.report import CheckResult, Report
from assay.report._schema import GateOutcome


def _report(*, passed: bool, results: list[CheckResult] | None = None) -> Report:
    return Report(
        assay_version="0",
        suite_name="files",
        suite={},
        created_at="2024-01-01T00:00:00+00:00",
        duration_s=0.0,
        seed=0,
        level=0.95,
        datasets=[],
        models=[],
        environment={},
        results=results or [],
        gates=[GateOutcome(gate="x.y >= 0", passed=passed, observed=1.0, threshold=0.0)],
    )


def test_writes_both_files_and_no_temporaries(tmp_path: Path) -> None:
    paths = write_report_files(_report(passed=True), tmp_path / "out")
    assert paths == {"json": tmp_path / "out/report.json", "html": tmp_path / "out/report.html"}
    assert Report.load(paths["json"]).passed
    assert "PASS" in paths["html"].read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "report.json"]
    # the permissions of a plain write (the umask's), not a temporary file's owner-only 0600
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    for p in paths.values():
        assert stat.S_IMODE(p.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_a_run_that_cannot_render_leaves_no_earlier_pass_behind(tmp_path: Path) -> None:
    """Before: report.json was written first, then the HTML failed to render, and the folder held
    the failed run's JSON next to the earlier run's passing HTML."""
    out = tmp_path / "out"
    write_report_files(_report(passed=True), out)
    # a generalization result whose curve points are not a mapping: the HTML section cannot draw it
    broken = CheckResult(
        check="generalization", model="m", dataset="d", n=0, tables={"curves": {"curves": "x"}}
    )
    with pytest.raises(AttributeError):
        write_report_files(_report(passed=False, results=[broken]), out)
    assert list(out.iterdir()) == []


def _suite(tmp_path: Path, *, model: str) -> Path:
    (tmp_path / "d.csv").write_text("id,text,label\n1,good,pos\n2,bad,neg\n3,ok,pos\n")
    (tmp_path / "m.py").write_text("def f(batch):\n    return ['pos' for _ in batch]\n")
    (tmp_path / "s.yaml").write_text(
        "data: {path: d.csv, id: id, input: text, label: label}\n"
        f"models: {{m: '{model}'}}\nchecks: {{performance: {{}}}}\n"
        "engine: {progress: false, cache: null}\n"
    )
    return tmp_path / "s.yaml"


@pytest.mark.parametrize("out_from", ["argument", "suite"])
def test_a_run_that_fails_removes_the_earlier_pass(tmp_path: Path, monkeypatch, out_from) -> None:
    import assay
    from assay.errors import ModelError

    monkeypatch.chdir(tmp_path)  # the suite's `out` is relative to the current folder
    out = tmp_path / "out"
    kwargs = {"out": out} if out_from == "argument" else {}
    passed = assay.evaluate(_suite(tmp_path, model="python:m.py:f"), progress=False, **kwargs)
    assert passed.passed and (out / "report.json").exists() and (out / "report.html").exists()
    with pytest.raises(ModelError):  # the next run cannot load its model: it fails before scoring
        assay.evaluate(_suite(tmp_path, model="python:missing.py:f"), progress=False, **kwargs)
    assert not (out / "report.json").exists() and not (out / "report.html").exists()
