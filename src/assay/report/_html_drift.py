"""The drift section of the HTML report: the verdict and its rule, a per-column table (test,
statistic, adjusted p-value or threshold, effect size), data quality, the distributions of the
reference and the current data side by side, and each column's statistic over the windows with its
threshold; and, when the check estimated performance without labels, the estimate per window
with its interval beside the realised value.

The builder reads only ``tables["drift"]`` (:meth:`DriftResult.to_dict`) and
``tables["performance"]`` of the ``CheckResult``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from assay.report import _plots
from assay.report._schema import CheckResult, Report

__all__ = ["build_drift", "performance_figure"]

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


def performance_figure(
    metric: str, windows: Sequence[Mapping[str, Any]], level: float | None
) -> go.Figure | None:
    """The CBPE estimate of ``metric`` per window with its interval (a band over two or more
    windows, error bars over one) and the realised value where labels exist; a realised point
    outside the interval is red."""
    xs, est, lo, hi, real_x, real_y, colours = [], [], [], [], [], [], []
    for w in windows:
        e = (w.get("estimated") or {}).get(metric) or {}
        x = _plots._text(w.get("label", ""))
        xs.append(x)
        est.append(_plots._num(e.get("value")))
        lo.append(_plots._num(e.get("lower")))
        hi.append(_plots._num(e.get("upper")))
        r = (w.get("realised") or {}).get(metric) or {}
        if _plots._num(r.get("value")) is not None:
            real_x.append(x)
            real_y.append(_plots._num(r.get("value")))
            colours.append(_plots._BAD if metric in (w.get("disagree") or []) else _plots._INK)
    if not any(v is not None for v in est):
        return None
    band = f"{level:.0%} interval" if level else "interval"
    traces: list[go.Scatter] = []
    if len(xs) >= 2:
        traces += [
            go.Scatter(x=xs, y=hi, mode="lines", line={"width": 0}, showlegend=False,
                       hoverinfo="skip"),
            go.Scatter(x=xs, y=lo, mode="lines", line={"width": 0}, fill="tonexty",
                       fillcolor="rgba(0, 114, 178, 0.18)", name=band, hoverinfo="skip"),
        ]  # fmt: skip
        error_y = None
    else:
        up, down = _plots.error_arms(est, lo, hi)
        error_y = {
            "type": "data",
            "symmetric": False,
            "array": up,
            "arrayminus": down,
            "color": _plots.PALETTE[0],
        }
    traces.append(
        go.Scatter(x=xs, y=est, mode="lines+markers", name="estimated (CBPE)",
                   line={"color": _plots.PALETTE[0], "width": 1.5}, error_y=error_y)
    )  # fmt: skip
    if real_x:
        traces.append(
            go.Scatter(x=real_x, y=real_y, mode="markers", name="realised",
                       marker={"color": colours, "size": 9, "symbol": "diamond"})
        )  # fmt: skip
    fig = go.Figure(traces)
    _plots._layout(
        fig, title=f"{metric}: estimated and realised by window", x="", y=metric, height=300
    )
    fig.update_xaxes(type="category")
    return fig


def _performance(r: CheckResult, figs: Any) -> dict[str, Any] | None:
    perf = r.tables.get("performance")
    if not isinstance(perf, Mapping):
        return None
    overall = perf.get("overall") or {}
    windows = [w for w in perf.get("windows") or [] if isinstance(w, Mapping)]
    shown = windows or [overall]
    figures = []
    for metric in perf.get("metrics") or []:
        fig = performance_figure(str(metric), shown, perf.get("level"))
        if fig is not None:
            figures.append(figs.add(fig, f"estimated and realised {metric} by window"))
    return {"table": perf, "overall": overall, "windows": windows, "figures": figures}


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
        "performance": _performance(r, figs),
    }
