"""JUnit XML: one test case per gate (and one per comparison), for CI systems' test reports."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from assay.report._schema import Report

__all__ = ["render_junit", "write_junit"]


def _num(x: float | None) -> str:
    return "undefined" if x is None or not math.isfinite(x) else f"{x:.6g}"


def render_junit(report: Report) -> str:
    """The JUnit XML of ``report``.

    Suite ``assay.gates``: a test case per gate (``classname`` ``assay.<check>``), a ``<failure>``
    when it failed, its evidence in ``<system-out>``. Suite ``assay.compare``: a test case per
    comparison, failed on no-go, skipped (with the reasons) when inconclusive.

    Example:
        >>> from assay.report import Report
        >>> r = Report(assay_version="0.1.0", suite_name="demo", suite={}, created_at="2024-01-01",
        ...            duration_s=1.0, seed=0, level=0.95, datasets=[], models=[], environment={})
        >>> render_junit(r).startswith("<?xml")
        True
    """
    root = ET.Element("testsuites", name=f"assay: {report.suite_name}")
    gates = ET.SubElement(
        root,
        "testsuite",
        name="assay.gates",
        timestamp=report.created_at,
        time=f"{report.duration_s:.3f}",
    )
    n_fail = 0
    for g in report.gates:
        check = g.gate.split(".", 1)[0]
        case = ET.SubElement(gates, "testcase", name=g.gate, classname=f"assay.{check}", time="0")
        evidence = f"observed {_num(g.observed)}, threshold {_num(g.threshold)}"
        if g.detail:
            evidence += f"; {g.detail}"
        for m in g.matches:
            evidence += "\n" + ", ".join(f"{k}={v}" for k, v in m.items())
        if not g.passed:
            n_fail += 1
            failure = ET.SubElement(
                case, "failure", message=f"{g.gate}: {evidence.splitlines()[0]}", type="GateFailed"
            )
            failure.text = evidence
        ET.SubElement(case, "system-out").text = evidence
    gates.set("tests", str(len(report.gates)))
    gates.set("failures", str(n_fail))
    gates.set("errors", "0")
    gates.set("skipped", "0")
    total, failures, skipped = len(report.gates), n_fail, 0
    comparisons = [r for r in report.results if r.check == "compare"]
    if comparisons:
        suite = ET.SubElement(root, "testsuite", name="assay.compare", timestamp=report.created_at)
        n_f = n_s = 0
        for r in comparisons:
            c = r.tables.get("comparison") or {}
            verdict = str(c.get("verdict", "inconclusive"))
            case = ET.SubElement(
                suite,
                "testcase",
                name=f"{r.model} vs {c.get('baseline', '')}",
                classname="assay.compare",
                time="0",
            )
            reasons = "\n".join(str(x) for x in c.get("reasons") or [])
            if verdict == "no-go":
                n_f += 1
                ET.SubElement(
                    case,
                    "failure",
                    message=f"NO-GO: {reasons.splitlines()[0] if reasons else ''}",
                    type="NoGo",
                ).text = reasons
            elif verdict != "go":
                n_s += 1
                ET.SubElement(
                    case,
                    "skipped",
                    message=f"INCONCLUSIVE: {reasons.splitlines()[0] if reasons else ''}",
                )
            ET.SubElement(case, "system-out").text = f"verdict {verdict}\n{reasons}"
        for k, v in (
            ("tests", len(comparisons)),
            ("failures", n_f),
            ("errors", 0),
            ("skipped", n_s),
        ):
            suite.set(k, str(v))
        total, failures, skipped = total + len(comparisons), failures + n_f, skipped + n_s
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: Report, path: str | Path) -> Path:
    """Write :func:`render_junit` (UTF-8) to ``path``; return it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_junit(report), encoding="utf-8")
    return p
