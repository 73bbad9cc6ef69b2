"""The drift section of the HTML report: the verdict and its rule, a per-column table (test,
statistic, adjusted p-value or threshold, effect size), data quality, the distributions of the
reference and the current data side by side, and each column's statistic over the windows with its
threshold.

The builder reads only ``tables["drift"]`` of the ``CheckResult`` (:meth:`DriftResult.to_dict`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from assay.report import _plots
from assay.report._schema import CheckResult, Report

__all__ = ["build_drift"]

#: Distribution plots drawn at most (drifted columns first, then by effect size).
MAX_DISTRIBUTIONS = 12


def _distribution_figure(col: Mapping[str, Any]) -> go.Figure | None:
    plot = col.get("plot") or {}
    bins, ref, cur = plot.get("bins"), plot.get("reference"), plot.get("current")
    if not bins or ref is None or cur is None:
        return None
    xs: list[Any]
    if plot.get("kind") == "numeric":
        edges = _plots._nums(bins)
        xs = [
            (a + b) / 2 if a is not None and b is not None else None
            for a, b in itertools.pairwise(edges)
        ]
    else:
        xs = [_plots._text(b) for b in bins]
    fig = go.Figure(
        [
            go.Bar(x=xs, y=_plots._nums(ref), name="reference", marker_color=_plots._MUTED),
            go.Bar(x=xs, y=_plots._nums(cur), name="current", marker_color=_plots.PALETTE[0]),
        ]
    )
    title = f"{col['column']}: {col.get('method', '')} {_fmt(col.get('statistic'))}"
    _plots._layout(fig, title=title, x=str(col["column"]), y="share of rows", height=300)
    fig.update_layout(barmode="group", bargap=0.05)
    if plot.get("kind") != "numeric":
        fig.update_xaxes(type="category")
    return fig


def _window_figure(
    name: str, windows: Sequence[Mapping[str, Any]], threshold: float | None, alpha: float
) -> go.Figure | None:
    """The column's statistic by window against its threshold; for p-value tests, the adjusted
    p-value on a log scale against alpha."""
    xs, ys, colours = [], [], []
    p_based = threshold is None
    for w in windows:
        entry = (w.get("columns") or {}).get(name)
        if not entry:
            continue
        y = entry.get("p_adjusted") if p_based else entry.get("statistic")
        if y is None:
            continue
        if p_based:
            y = max(float(y), 1e-300)  # a log axis has no 0
        xs.append(_plots._text(w.get("label", "")))
        ys.append(y)
        colours.append(_plots._BAD if entry.get("drifted") else _plots.PALETTE[0])
    if len(xs) < 2:
        return None
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers",
            line={"color": _plots.PALETTE[0], "width": 1},
            marker={"color": colours, "size": 8},
            name=name,
        )
    )
    what = "adjusted p-value" if p_based else "statistic"
    _plots._layout(
        fig, title=f"{name}: {what} by window", x="window", y=what, height=280, showlegend=False
    )
    fig.update_xaxes(type="category")
    if p_based:
        fig.update_yaxes(type="log", exponentformat="e")
        line, text = alpha, f"alpha {alpha:g}"
    else:
        line, text = float(threshold or 0.0), f"threshold {threshold:.3g}"
    fig.add_hline(
        y=line,
        line={"color": _plots._BAD, "dash": "dash", "width": 1.2},
        annotation_text=text,
        annotation_position="top left",
    )
    return fig


def _fmt(x: Any) -> str:
    return "—" if x is None else f"{x:.3g}" if isinstance(x, (int, float)) else str(x)


def _quality_rows(drift: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for q in drift.get("quality") or []:
        parts = {
            k: q.get(k) or {}
            for k in ("missing", "non_finite", "unreadable", "out_of_range", "new_categories")
        }
        interesting = q.get("type_changed") or any(
            (p.get("current") or 0) or (p.get("reference") or 0) for p in parts.values()
        )
        if interesting:
            rows.append({"column": q.get("column"), **parts, "q": q})
    return rows


def build_drift(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Context of ``section_drift.html.j2``."""
    drift = r.tables.get("drift") or {}
    columns = [c for c in drift.get("columns") or [] if isinstance(c, Mapping)]
    windows = [w for w in drift.get("windows") or [] if isinstance(w, Mapping)]
    ranked = sorted(
        (c for c in columns if c.get("tested")),
        key=lambda c: (not c.get("drifted"), -(c.get("effect_size") or 0.0)),
    )
    distributions = []
    for c in ranked[:MAX_DISTRIBUTIONS]:
        fig = _distribution_figure(c)
        if fig is not None:
            distributions.append(figs.add(fig, f"distribution of {c['column']}"))
    over_windows = []
    if windows:
        for c in ranked[:MAX_DISTRIBUTIONS]:
            alpha = float(drift.get("alpha") or 0.05)
            fig = _window_figure(str(c["column"]), windows, c.get("threshold"), alpha)
            if fig is not None:
                over_windows.append(figs.add(fig, f"{c['column']} by window"))
    share = drift.get("share_drifted") or {}
    return {
        "drift": drift,
        "columns": columns,
        "share": share.get("value"),
        "n_tested": share.get("n"),
        "quality": _quality_rows(drift),
        "duplicates": drift.get("duplicates") or {},
        "windows": windows,
        "distributions": distributions,
        "over_windows": over_windows,
        "n_hidden": max(0, len(ranked) - MAX_DISTRIBUTIONS),
    }
