"""The checkpoint sweep's section: each metric against the training step, with its interval band."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from assay.metrics import metrics_for
from assay.report import _plots
from assay.report._schema import CheckResult, Report

if TYPE_CHECKING:
    from assay.report._html import Figures

__all__ = ["build_checkpoints"]

#: Metrics drawn first when present (the table lists all): the catalogue's summary metrics.
_FIRST = tuple(
    m.name
    for task in ("classification", "regression")
    for m in metrics_for(task, shown=("summary",))
)
MAX_PLOTS = 4


def _figure(metric: str, s: dict[str, list[Any]]) -> go.Figure:
    fig = go.Figure()
    steps, lo, hi = s["step"], s["lower"], s["upper"]
    fig.add_trace(
        go.Scatter(
            x=steps + steps[::-1],
            y=hi + lo[::-1],
            fill="toself",
            line={"width": 0},
            fillcolor="rgba(31,119,180,0.18)",
            name="interval",
            hoverinfo="skip",
        )
    )
    fig.add_trace(go.Scatter(x=steps, y=s["value"], mode="lines+markers", name=metric))
    _plots._layout(fig, title=f"{metric} by training step", x="step", y=metric, height=300)
    return fig


def build_checkpoints(r: CheckResult, figs: Figures, report: Report) -> dict[str, Any]:
    """Context of ``section_checkpoints.html.j2``."""
    series: dict[str, dict[str, list[Any]]] = r.tables.get("series") or {}
    order = [m for m in _FIRST if m in series] + [m for m in series if m not in _FIRST]
    plots = [figs.add(_figure(m, series[m]), f"{m} by step") for m in order[:MAX_PLOTS]]
    steps = [dict(s) for s in r.tables.get("steps") or []]
    for s in steps:
        s["metrics"] = {}
    by_step = {s["step"]: s for s in steps}
    for m in order[:6]:
        for st, v, lo, hi in zip(*(series[m][k] for k in ("step", "value", "lower", "upper"))):
            if st in by_step:
                by_step[st]["metrics"][m] = (v, lo, hi)
    return {"plots": plots, "steps": steps, "metrics": order[:6]}
