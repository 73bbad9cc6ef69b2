"""JUnit XML: one test case per gate, one per comparison; counts CI systems read."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from test_markdown import comparison_result

from assay.report import Report, render_junit, write_junit


def test_one_case_per_gate_with_failures(sample_report: Report, tmp_path: Path) -> None:
    sample_report.results.append(comparison_result(better=False))
    path = write_junit(sample_report, tmp_path / "gates.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "4", "0")
    gates, compare = root.findall("testsuite")
    assert gates.get("name") == "assay.gates" and gates.get("tests") == "4"
    cases = gates.findall("testcase")
    assert [c.get("name") for c in cases] == [g.gate for g in sample_report.gates]
    assert [c.find("failure") is None for c in cases] == [g.passed for g in sample_report.gates]
    assert cases[0].get("classname") == "assay.performance"
    slices = cases[2]
    assert "slices.genre.horror.accuracy.lower" in (slices.find("system-out").text or "")
    undefined = cases[3].find("failure")
    assert undefined is not None and "observed undefined" in (undefined.get("message") or "")
    (case,) = compare.findall("testcase")
    assert case.get("name") == "candidate vs baseline"
    failure = case.find("failure")
    assert failure is not None and failure.get("message", "").startswith("NO-GO: accuracy is worse")


def test_all_pass_and_inconclusive_is_skipped(sample_report: Report) -> None:
    sample_report.gates = [g for g in sample_report.gates if g.passed]
    root = ET.fromstring(render_junit(sample_report).split("\n", 1)[1])
    assert (root.get("tests"), root.get("failures")) == ("1", "0")
    r = comparison_result(better=True)
    r.tables["comparison"]["verdict"] = "inconclusive"
    sample_report.results.append(r)
    root = ET.fromstring(render_junit(sample_report).split("\n", 1)[1])
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("2", "0", "1")
