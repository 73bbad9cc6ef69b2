"""Plotly figure builders for the HTML report.

Each builder takes JSON-ready data from a ``CheckResult`` (lists, dicts; ``None`` or NaN where a
value is undefined) and returns a ``plotly.graph_objects.Figure``. They never read files or call
models, and they cap the number of points they draw so that a report stays small whatever the size
of the data behind it.

User-supplied strings (labels, slice values) are HTML-escaped before they reach Plotly, because
Plotly interprets a subset of HTML (``<b>``, ``<a href>``) in every text it draws.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

__all__ = [
    "MAX_CURVE_POINTS",
    "MAX_SCATTER_POINTS",
    "forest_figure",
    "pr_figure",
    "reliability_figure",
    "residual_quantiles_figure",
    "roc_figure",
    "scatter_figure",
]

MAX_CURVE_POINTS = 400
MAX_SCATTER_POINTS = 2000

#: A colour-blind-safe qualitative palette (Okabe–Ito), shared by every figure.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_INK = "#1f2933"
_MUTED = "#7b8794"
_GRID = "#e4e7eb"
_BAD = "#c0392b"


def _num(x: Any) -> float | None:
    """A finite float, or ``None`` (for NaN, inf, ``None`` and non-numbers)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def _nums(xs: Any) -> list[float | None]:
    return [_num(x) for x in xs] if isinstance(xs, Sequence) and not isinstance(xs, str) else []


def _text(s: Any) -> str:
    return html.escape(str(s), quote=False)


def _thin(n: int, cap: int) -> list[int]:
    """Indices of at most ``cap`` evenly spread points out of ``n``, first and last included."""
    if n <= cap:
        return list(range(n))
    step = (n - 1) / (cap - 1)
    return sorted({round(i * step) for i in range(cap)})


def _layout(fig: go.Figure, *, title: str, x: str, y: str, height: int = 360, **extra: Any) -> None:
    fig.update_layout(
        template="none",
        title={"text": _text(title), "x": 0, "xanchor": "left", "font": {"size": 14}},
        height=height,
        margin={"l": 60, "r": 20, "t": 40, "b": 60},
        font={
            "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            "size": 12,
            "color": _INK,
        },
        paper_bgcolor="white",
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.2, "x": 0},
        hoverlabel={"font": {"size": 12}},
        **extra,
    )
    axis = {"gridcolor": _GRID, "zerolinecolor": _GRID, "linecolor": _MUTED, "automargin": True}
    fig.update_xaxes(title_text=_text(x), **axis)
    fig.update_yaxes(title_text=_text(y), **axis)


def _curves(
    data: Mapping[str, Any], xkey: str, ykey: str
) -> list[tuple[str, list[Any], list[Any]]]:
    """``(name, xs, ys)`` for a binary curve (``{xkey: …}``) or one per class (``{label: {…}}``)."""
    if xkey in data:
        items: list[tuple[str, Any]] = [("", data)]
    else:
        items = [(str(k), v) for k, v in data.items() if isinstance(v, Mapping)]
    out = []
    for name, d in items:
        xs, ys = _nums(d.get(xkey, [])), _nums(d.get(ykey, []))
        keep = _thin(min(len(xs), len(ys)), MAX_CURVE_POINTS)
        out.append((name, [xs[i] for i in keep], [ys[i] for i in keep]))
    return out


def error_arms(
    values: Sequence[float | None], lower: Sequence[float | None], upper: Sequence[float | None]
) -> tuple[list[float], list[float]]:
    """The arms of asymmetric error bars, ``(upper − value, value − lower)`` per point (0 where
    a number is missing), for Plotly's ``array`` and ``arrayminus``."""
    up = [h - v if h is not None and v is not None else 0 for h, v in zip(upper, values)]
    down = [v - lw if lw is not None and v is not None else 0 for lw, v in zip(lower, values)]
    return up, down


def _identity(fig: go.Figure, name: str, lo: float = 0, hi: float = 1) -> None:
    """The dotted y = x reference line from ``lo`` to ``hi`` (chance, perfect calibration,
    prediction = truth), left out of the hover."""
    fig.add_trace(
        go.Scatter(
            x=[lo, hi],
            y=[lo, hi],
            mode="lines",
            name=name,
            line={"dash": "dot", "color": _MUTED, "width": 1},
            hoverinfo="skip",
        )
    )


def _curve_traces(
    fig: go.Figure,
    curves: list[tuple[str, list[Any], list[Any]]],
    *,
    unnamed: str,
    scores: Mapping[str, str] | None,
    score_name: str,
    hovertemplate: str,
    **style: Any,
) -> None:
    """One line per ``(name, xs, ys)`` curve in palette order, named ``unnamed`` where the name
    is empty and followed by its formatted score (``AUC 0.91``) where ``scores`` has one."""
    for i, (name, xs, ys) in enumerate(curves):
        label = _text(name) if name else unnamed
        if scores and name in scores:
            label += f" ({score_name} {scores[name]})"
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=label,
                line={"color": PALETTE[i % len(PALETTE)]},
                hovertemplate=hovertemplate,
                **style,
            )
        )


def roc_figure(roc: Mapping[str, Any], *, auc: Mapping[str, str] | None = None) -> go.Figure:
    """ROC curve(s) with the chance diagonal.

    Args:
        roc: ``{"fpr", "tpr", "thresholds"}`` for a binary task, or ``{label: {...}}``
            (one-vs-rest) for a multiclass one.
        auc: formatted AUC per curve name (``""`` for the binary curve), shown in the legend.
    """
    fig = go.Figure()
    _identity(fig, "chance")
    _curve_traces(
        fig,
        _curves(roc, "fpr", "tpr"),
        unnamed="ROC",
        scores=auc,
        score_name="AUC",
        hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<extra></extra>",
    )
    _layout(fig, title="ROC curve", x="false positive rate", y="true positive rate")
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return fig


def pr_figure(pr: Mapping[str, Any], *, ap: Mapping[str, str] | None = None) -> go.Figure:
    """Precision-recall curve(s); same shapes as :func:`roc_figure`."""
    fig = go.Figure()
    _curve_traces(
        fig,
        _curves(pr, "recall", "precision"),
        unnamed="PR",
        scores=ap,
        score_name="AP",
        hovertemplate="recall %{x:.3f}<br>precision %{y:.3f}<extra></extra>",
        line_shape="hv",
    )
    _layout(fig, title="Precision–recall curve", x="recall", y="precision")
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return fig


def reliability_figure(rel: Mapping[str, Any], *, ece: str | None = None) -> go.Figure:
    """Reliability diagram: accuracy against mean confidence per bin, with bin counts below."""
    conf, acc = _nums(rel.get("mean_confidence", [])), _nums(rel.get("accuracy", []))
    count = _nums(rel.get("count", []))
    lo, hi = _nums(rel.get("bin_lower", [])), _nums(rel.get("bin_upper", []))
    bounds = list(zip(lo, hi, strict=False))
    mids = [(a + b) / 2 if a is not None and b is not None else None for a, b in bounds]
    widths = [(b - a) * 0.9 if a is not None and b is not None else None for a, b in bounds]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=mids,
            y=count,
            width=widths,
            name="examples",
            yaxis="y2",
            marker={"color": _GRID},
            hovertemplate="%{y} examples<extra></extra>",
        )
    )
    _identity(fig, "perfectly calibrated")
    fig.add_trace(
        go.Scatter(
            x=conf,
            y=acc,
            mode="lines+markers",
            name="model",
            line={"color": PALETTE[0]},
            customdata=count,
            hovertemplate=(
                "confidence %{x:.3f}<br>accuracy %{y:.3f}<br>%{customdata} examples<extra></extra>"
            ),
        )
    )
    title = "Reliability diagram" + (f" (ECE {ece})" if ece else "")
    most = max((c for c in count if c is not None), default=1.0) or 1.0
    _layout(fig, title=title, x="mean confidence", y="accuracy", barmode="overlay")
    # The counts sit in the bottom third, under the curve, on their own axis.
    fig.update_layout(
        yaxis={"range": [0, 1.02]},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "range": [0, most * 3],
            "zeroline": False,
            "showticklabels": False,
        },
    )
    fig.update_xaxes(range=[0, 1])
    return fig


def scatter_figure(scatter: Mapping[str, Any]) -> go.Figure:
    """Predicted against true values for a regression, with the identity line."""
    yt, yp = _nums(scatter.get("y_true", [])), _nums(scatter.get("y_pred", []))
    keep = _thin(min(len(yt), len(yp)), MAX_SCATTER_POINTS)
    xs, ys = [yt[i] for i in keep], [yp[i] for i in keep]
    finite = [v for v in xs + ys if v is not None]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    fig = go.Figure()
    _identity(fig, "prediction = truth", lo, hi)
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            name="examples",
            marker={"color": PALETTE[0], "size": 5, "opacity": 0.55},
            hovertemplate="true %{x:.4g}<br>predicted %{y:.4g}<extra></extra>",
        )
    )
    shown = f" ({len(keep)} of {min(len(yt), len(yp))} shown)" if len(keep) < len(yt) else ""
    _layout(fig, title="Predicted vs true" + shown, x="true value", y="predicted value", height=400)
    return fig


def residual_quantiles_figure(rq: Mapping[str, Any]) -> go.Figure:
    """Quantiles of the residual (prediction − truth) against their level."""
    q, v = _nums(rq.get("q", [])), _nums(rq.get("value", []))
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=q,
            y=v,
            mode="lines+markers",
            name="residual quantile",
            line={"color": PALETTE[0]},
            hovertemplate="q %{x}<br>residual %{y:.4g}<extra></extra>",
        )
    )
    _layout(fig, title="Residual quantiles (prediction − truth)", x="quantile", y="residual")
    fig.add_hline(y=0, line={"color": _MUTED, "width": 1, "dash": "dot"})
    fig.update_xaxes(range=[0, 1])
    return fig


def forest_figure(
    rows: Sequence[Mapping[str, Any]],
    *,
    metric: str,
    overall: float | None = None,
    reference: str = "overall",
    title: str | None = None,
) -> go.Figure:
    """One point and interval per slice; flagged slices in red, too-small ones grey.

    Args:
        rows: ``{"name", "value", "lower", "upper", "n", "flagged", "too_small"}`` per slice,
            in the order to draw from top to bottom.
        metric: the metric's name, for the title and axis.
        overall: the metric on the whole dataset, drawn as a vertical reference line.
        reference: the label of that line (``nominal`` for a target such as conformal coverage).
        title: the figure's title (default: ``<metric> by slice``).
    """
    names, xs, colors, hover = [], [], [], []
    for r in rows:
        names.append(_text(r.get("name", "")))
        xs.append(_num(r.get("value")))
        colors.append(_BAD if r.get("flagged") else _MUTED if r.get("too_small") else PALETTE[0])
        state = " · flagged" if r.get("flagged") else " · too small" if r.get("too_small") else ""
        hover.append(f"n={r.get('n', '?')}{state}")
    err_hi, err_lo = error_arms(
        xs, [_num(r.get("lower")) for r in rows], [_num(r.get("upper")) for r in rows]
    )
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=names,
            mode="markers",
            marker={"color": colors, "size": 9, "symbol": "square"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": err_hi,
                "arrayminus": err_lo,
                "color": _INK,
                "thickness": 1.2,
                "width": 4,
            },
            customdata=hover,
            name=_text(metric),
            hovertemplate="%{y}<br>%{x:.3f}<br>%{customdata}<extra></extra>",
        )
    )
    if overall is not None and math.isfinite(overall):
        fig.add_vline(
            x=overall,
            line={"color": _MUTED, "dash": "dash", "width": 1},
            annotation_text=_text(reference),
            annotation_position="top",
        )
    _layout(
        fig,
        title=title or f"{metric} by slice",
        x=metric,
        y="",
        height=max(220, 90 + 28 * len(names)),
        showlegend=False,
    )
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def risk_coverage_figure(
    curve: Sequence[Mapping[str, Any]],
    *,
    marks: Sequence[Mapping[str, Any]] = (),
    risk_label: str = "error rate",
) -> go.Figure:
    """The selective risk of the most confident rows against the share kept; ``marks`` are
    ``{"coverage", "risk", "name"}`` points drawn on it (the requested coverages)."""
    xs = [_num(p.get("coverage")) for p in curve]
    ys = [_num(p.get("risk")) for p in curve]
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            name="risk",
            line={"color": PALETTE[0]},
            hovertemplate="coverage %{x:.3f}<br>risk %{y:.3f}<extra></extra>",
        )
    )
    if marks:
        fig.add_trace(
            go.Scatter(
                x=[_num(m.get("coverage")) for m in marks],
                y=[_num(m.get("risk")) for m in marks],
                mode="markers",
                name="requested coverages",
                marker={"color": _BAD, "size": 8},
                customdata=[_text(m.get("name", "")) for m in marks],
                hovertemplate="%{customdata}<br>risk %{y:.3f}<extra></extra>",
            )
        )
    _layout(
        fig,
        title="Risk–coverage curve",
        x="coverage (share of cases kept)",
        y=f"{risk_label} on the cases kept",
    )
    fig.update_xaxes(range=[0, 1.02])
    return fig


def reliability_pair_figure(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]], *, temperature: float
) -> go.Figure:
    """Reliability diagram before and after temperature scaling; each bin's accuracy with its
    interval. Bins are ``{"confidence", "accuracy", "accuracy_lower", "accuracy_upper", "n"}``."""
    fig = go.Figure()
    _identity(fig, "perfectly calibrated")
    for i, (name, bins) in enumerate(
        (("as given", before), (f"temperature {temperature:.2f}", after))
    ):
        acc = [_num(b.get("accuracy")) for b in bins]
        up, down = error_arms(
            acc,
            [_num(b.get("accuracy_lower")) for b in bins],
            [_num(b.get("accuracy_upper")) for b in bins],
        )
        fig.add_trace(
            go.Scatter(
                x=[_num(b.get("confidence")) for b in bins],
                y=acc,
                mode="lines+markers",
                name=name,
                line={"color": PALETTE[i]},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": up,
                    "arrayminus": down,
                    "thickness": 1,
                    "width": 3,
                },
                customdata=[b.get("n") for b in bins],
                hovertemplate="confidence %{x:.3f}<br>accuracy %{y:.3f}<br>%{customdata} examples"
                "<extra></extra>",
            )
        )
    _layout(
        fig,
        title="Reliability before and after temperature scaling",
        x="mean confidence",
        y="accuracy",
    )
    fig.update_xaxes(range=[0, 1.02])
    fig.update_yaxes(range=[0, 1.05])
    return fig


def set_size_figure(histogram: Mapping[str, Any], *, title: str) -> go.Figure:
    """How many prediction sets have each size."""
    sizes = sorted(histogram, key=lambda s: int(s))
    fig = go.Figure(
        go.Bar(
            x=[int(s) for s in sizes],
            y=[_num(histogram[s]) for s in sizes],
            marker={"color": PALETTE[0]},
            hovertemplate="size %{x}: %{y} cases<extra></extra>",
        )
    )
    _layout(fig, title=title, x="labels in the set", y="cases", height=300, showlegend=False)
    fig.update_xaxes(dtick=1)
    return fig
