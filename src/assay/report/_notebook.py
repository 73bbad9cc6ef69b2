"""The Report in a Jupyter cell (``Report._repr_html_``): the verdict, the findings, the gates and
each result's headline metrics; small, with no script (the full page is ``render_html``)."""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

from assay.report._findings import findings

if TYPE_CHECKING:
    from assay.report._schema import Report
    from assay.stats._estimate import Estimate

__all__ = ["notebook_html"]

#: Metrics shown per result; the rest are in ``report.to_frame()``.
MAX_METRICS = 6
MAX_FINDINGS = 12
_COLOURS = {
    "fail": "#b42318",
    "no-go": "#b42318",
    "inconclusive": "#b54708",
    "warning": "#b54708",
    "go": "#067647",
    "PASS": "#067647",
    "FAIL": "#b42318",
    "NO GATES": "#475467",
}


def _num(x: float) -> str:
    return "undefined" if not math.isfinite(x) else f"{x:.3f}"


def _est(e: Estimate) -> str:
    if not math.isfinite(e.value):
        return "undefined"
    ci = f" [{_num(e.lower)}, {_num(e.upper)}]" if math.isfinite(e.lower) else ""
    return f"{_num(e.value)}{ci}"


def _badge(word: str) -> str:
    colour = _COLOURS.get(word, "#475467")
    return (
        f'<span style="background:{colour};color:#fff;border-radius:3px;padding:0 4px;'
        f'font-size:85%">{escape(word.upper())}</span>'
    )


def notebook_html(report: Report) -> str:
    """A short HTML summary of ``report``: what Jupyter shows for a Report."""
    verdict = "NO GATES" if not report.gates else ("PASS" if report.passed else "FAIL")
    parts = [
        f"<div class='assay-report'><h4 style='margin:0'>{escape(report.suite_name)} "
        f"{_badge(verdict)}</h4>",
        f"<div style='color:#667085'>{len(report.results)} results · "
        f"{report.level:.0%} intervals · seed {report.seed}</div>",
    ]
    found = findings(report)
    if found:
        items = "".join(
            f"<li>{_badge(f.severity)} <b>{escape(f.check)}</b> "
            f"{escape(', '.join(f.models))}{':' if f.models else ''} {escape(f.text)}"
            f"{'' if f.gated else ' <i>(not gated)</i>'}</li>"
            for f in found[:MAX_FINDINGS]
        )
        more = len(found) - MAX_FINDINGS
        extra = f"<li>… and {more} more</li>" if more > 0 else ""
        parts.append(f"<ul style='margin:4px 0'>{items}{extra}</ul>")
    if report.gates:
        gate_rows = "".join(
            f"<tr><td>{_badge('PASS' if g.passed else 'FAIL')}</td>"
            f"<td><code>{escape(g.gate)}</code></td>"
            f"<td>{'' if g.observed is None else _num(g.observed)}</td></tr>"
            for g in report.gates
        )
        parts.append(f"<table><tr><th></th><th>gate</th><th>observed</th></tr>{gate_rows}</table>")
    rows: list[str] = []
    for r in report.results:
        shown = [(k, e) for k, e in r.metrics.items() if "." not in k][:MAX_METRICS]
        cells = "; ".join(f"{escape(k)} {_est(e)}" for k, e in shown)
        rows.append(
            f"<tr><td>{escape(r.check)}</td><td>{escape(r.model)}</td>"
            f"<td>{r.n:,}</td><td>{cells}</td></tr>"
        )
    if rows:
        parts.append(
            "<table><tr><th>check</th><th>model</th><th>n</th><th>metrics</th></tr>"
            + "".join(rows)
            + "</table>"
        )
    parts.append(
        "<div style='color:#667085'>Every estimate: <code>report.to_frame()</code>; "
        "the full page: <code>assay.report.write_html(report, 'report.html')</code>."
        "</div></div>"
    )
    return "".join(parts)
