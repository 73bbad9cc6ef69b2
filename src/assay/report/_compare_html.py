"""The comparison section of the HTML report (the ``compare`` check): verdict, reasons, per-metric
paired tests, and a figure of each metric's improvement against its non-inferiority margin."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from assay.report import _plots
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

if TYPE_CHECKING:
    from assay.report._html import Figures

__all__ = ["VERDICT_CLASS", "build_compare"]

#: CSS class of each verdict's badge.
VERDICT_CLASS = {"go": "pass", "no-go": "fail", "inconclusive": "warn"}


def _n(x: Any) -> str:
    if x is None:
        return "∞"
    return f"{math.ceil(x):,}" if isinstance(x, (int, float)) and math.isfinite(x) else "—"


def improvement_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Each metric's improvement over the baseline with its interval, and the margin as a tick."""
    fig = go.Figure()
    names = [r["metric"] for r in rows]
    sign = [1.0 if r["direction"] == "higher" else -1.0 for r in rows]
    vals = [s * r["est"].value for s, r in zip(sign, rows)]
    lo = [min(s * r["est"].lower, s * r["est"].upper) for s, r in zip(sign, rows)]
    hi = [max(s * r["est"].lower, s * r["est"].upper) for s, r in zip(sign, rows)]
    fig.add_trace(
        go.Scatter(
            x=vals,
            y=names,
            mode="markers",
            name="improvement",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [h - v for h, v in zip(hi, vals)],
                "arrayminus": [v - lo_ for v, lo_ in zip(vals, lo)],
            },
            marker={"size": 9},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[-(r["margin"] or 0.0) for r in rows],
            y=names,
            mode="markers",
            name="−margin",
            marker={"symbol": "line-ns-open", "size": 16, "color": "#b3261e"},
        )
    )
    fig.add_vline(x=0, line_dash="dot", line_color="#888")
    _plots._layout(
        fig,
        title="Improvement over the baseline (higher is better)",
        x="candidate − baseline, sign-adjusted",
        y="",
        height=120 + 40 * len(rows),
    )
    return fig


def build_compare(r: CheckResult, figs: Figures, report: Report) -> dict[str, Any]:
    """Context of ``section_compare.html.j2`` for one compare result."""
    c = r.tables.get("comparison") or {}
    rows = []
    for m in c.get("metrics") or []:
        est = Estimate.from_dict(dict(m.get("difference") or {}))
        rows.append(
            {
                "metric": str(m.get("metric")),
                "direction": m.get("direction", "higher"),
                "candidate": m.get("candidate"),
                "baseline": m.get("baseline"),
                "est": est,
                "method": m.get("method", ""),
                "p": m.get("p_value"),
                "p_holm": m.get("p_holm"),
                "margin": m.get("margin") or 0.0,
                "p_ni": m.get("p_noninferior"),
                "status": m.get("status", "inconclusive"),
                "mde": m.get("mde"),
                "n_margin": _n(m.get("n_for_margin")) if (m.get("margin") or 0) > 0 else "—",
                "n_observed": _n(m.get("n_for_observed")),
            }
        )
    plots = []
    finite = [row for row in rows if row["est"].defined and math.isfinite(row["est"].lower)]
    if finite:
        plots.append(figs.add(improvement_figure(finite), "Improvement over the baseline"))
    verdict = str(c.get("verdict", "inconclusive"))
    op = r.tables.get("operating_point")
    operating_point = None
    if op:  # both models at the same operating point (see the compare check)
        models = op.get("models") or {}
        operating_point = {
            "target": op.get("target"),
            "value": op.get("value"),
            "positive": op.get("positive_label"),
            "n_calibration": op.get("n_calibration"),
            "n_test": op.get("n_test"),
            "rows": [
                {
                    "metric": k,
                    "cells": [
                        Estimate.from_dict(dict((models.get(name) or {}).get(k) or {}))
                        for name in (r.model, c.get("baseline", ""))
                    ],
                    "diff": Estimate.from_dict(dict(d)),
                    "p": (op.get("p_values") or {}).get(k),
                }
                for k, d in (op.get("differences") or {}).items()
            ],
            "thresholds": [
                (models.get(name) or {}).get("threshold")
                for name in (r.model, c.get("baseline", ""))
            ],
        }
    return {
        "operating_point": operating_point,
        "verdict": verdict,
        "verdict_class": VERDICT_CLASS.get(verdict, "warn"),
        "baseline": c.get("baseline", ""),
        "alpha": c.get("alpha"),
        "reasons": list(c.get("reasons") or []),
        "notes": list(c.get("notes") or []),
        "rows": rows,
        "plots": plots,
    }
