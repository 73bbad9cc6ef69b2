"""The monitor's dashboard: every window over time on one self-contained HTML page.

``render_dashboard`` reads only window summaries (the format of ``/v1/windows``, see
``docs/monitor-dashboard.md``) and alert records, and draws with the Plotly bundle the HTML report
inlines, so the page works offline and needs nothing the report does not. A key a window lacks
(a check that did not run, no labels yet) is drawn as a gap, never as a zero.

The time axis is each window's ``start``; every time chart marks the windows with a firing alert
(red dotted lines), and the table at the end links each window to its full HTML report.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import plotly.graph_objects as go
from markupsafe import Markup

from assay.report._html import PLOTLY_BUNDLE, TEMPLATES, Figures
from assay.report._plots import PALETTE, _layout, _num, _text

__all__ = [
    "MANY_WINDOWS",
    "MAX_COLUMN_LINES",
    "MAX_GROUP_LINES",
    "MAX_METRIC_CHARTS",
    "render_dashboard",
]

#: Drifted columns drawn as their own lines (those most often among a window's top columns).
MAX_COLUMN_LINES = 8
#: Metrics drawn as estimated-vs-realised charts (the rest are in the window table's JSON).
MAX_METRIC_CHARTS = 4
#: Past this many windows, lines lose their markers and intervals are bands, not bars.
MANY_WINDOWS = 60
#: Group values drawn per (attribute, metric) chart.
MAX_GROUP_LINES = 8
_BAD = "#c0392b"
_HERE = Path(__file__).parent / "templates"


def _t(s: Mapping[str, Any]) -> str:
    """A window's position on the time axis: its start (its id when it has none)."""
    return str(s.get("start") or s.get("id"))


def _sorted(summaries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(summaries, key=lambda s: (str(s.get("start") or ""), _num(s.get("id")) or 0))


def _firing(s: Mapping[str, Any]) -> list[str]:
    return [str(a.get("gate", "")) for a in s.get("alerts") or [] if a.get("state") == "firing"]


def _alert_times(
    windows: Sequence[Mapping[str, Any]], alerts: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Where alerts fire on the time axis: windows whose summary has a firing alert, and the
    windows (else the time) the alert records name."""
    by_id = {s.get("id"): _t(s) for s in windows}
    times = {_t(s) for s in windows if _firing(s)}
    for a in alerts:
        if a.get("state", "firing") != "firing":
            continue
        wid = a.get("window_id", a.get("window"))
        at = by_id.get(wid) or a.get("started_at") or a.get("fired_at") or a.get("at")
        if at:
            times.add(str(at))
    return sorted(times)


def _mark_alerts(fig: go.Figure, times: Sequence[str]) -> None:
    for t in times:
        fig.add_shape(
            type="line",
            xref="x",
            yref="paper",
            x0=t,
            x1=t,
            y0=0,
            y1=1,
            line={"color": _BAD, "width": 1, "dash": "dot"},
            layer="below",
        )
    if times:
        # one legend entry for the lines (shapes have none)
        fig.add_trace(
            go.Scatter(
                x=[times[0]],
                y=[None],
                mode="lines",
                name="alert firing",
                line={"color": _BAD, "dash": "dot", "width": 1},
                hoverinfo="skip",
            )
        )


def _time_layout(fig: go.Figure, title: str, y: str, times: Sequence[str], **extra: Any) -> None:
    # no x title: every chart's axis is the window's start, which the section says
    _layout(fig, title=title, x="", y=y, height=340, **extra)
    fig.update_layout(
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
        margin={"l": 60, "r": 20, "t": 40, "b": 90},
    )
    _mark_alerts(fig, times)


def _mode(n: int) -> str:
    # markers keep a single window (or a window between gaps) visible; many windows read as a line
    return "lines+markers" if n <= MANY_WINDOWS else "lines"


def _band(
    fig: go.Figure,
    xs: list[str],
    lo: list[float | None],
    hi: list[float | None],
    name: str,
    color: str,
) -> None:
    """A shaded interval between ``lo`` and ``hi``: one closed shape per run of windows that have
    both bounds, so a window without them is a gap (``tonexty`` would bridge it)."""
    px: list[str | None] = []
    py: list[float | None] = []
    run: list[int] = []
    for i in [*range(len(xs)), -1]:  # -1 closes the last run
        if i >= 0 and lo[i] is not None and hi[i] is not None:
            run.append(i)
            continue
        if run:
            px += [xs[j] for j in run] + [xs[j] for j in reversed(run)] + [None]
            py += [hi[j] for j in run] + [lo[j] for j in reversed(run)] + [None]
            run = []
    fig.add_trace(
        go.Scatter(
            x=px,
            y=py,
            mode="lines",
            line={"width": 0},
            fill="toself",
            fillcolor=_rgba(color, 0.18),
            name=name,
            hoverinfo="skip",
            legendgroup=name,
        )
    )


def _with_interval(
    fig: go.Figure,
    xs: list[str],
    ests: Sequence[tuple[float | None, float | None, float | None]],
    *,
    name: str,
    color: str,
    mode: str,
    hover: str,
    notes: Sequence[str] = (),
) -> None:
    """Values with their intervals: error bars on a few windows, a shaded band on many (past
    :data:`MANY_WINDOWS` bars would hide the line). The interval is in the hover either way."""
    ys = [e[0] for e in ests]
    ci = [
        f"[{lo:.4f}, {hi:.4f}]" if lo is not None and hi is not None else "" for _, lo, hi in ests
    ]
    ci = [f"{c} {n}".strip() for c, n in zip(ci, notes)] if notes else ci
    trace: dict[str, Any] = {
        "x": xs,
        "y": ys,
        "name": name,
        "line": {"color": color},
        "marker": {"color": color, "size": 7},
        "customdata": ci,
        "hovertemplate": hover + " %{y:.4f} %{customdata}<extra></extra>",
    }
    if len(xs) > MANY_WINDOWS:
        _band(fig, xs, [e[1] for e in ests], [e[2] for e in ests], f"{name} interval", color)
        fig.add_trace(go.Scatter(mode="lines", **trace))
        return
    up = [None if v is None or hi is None else hi - v for v, _, hi in ests]
    down = [None if v is None or lo is None else v - lo for v, lo, _ in ests]
    error = {
        "type": "data",
        "symmetric": False,
        "color": color,
        "thickness": 1,
        "array": up,
        "arrayminus": down,
    }
    fig.add_trace(go.Scatter(mode=mode, error_y=error, **trace))


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _part(s: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The summary's ``key`` section, or an empty one when the check did not run."""
    v = s.get(key)
    return v if isinstance(v, Mapping) else {}


def _est(d: Any) -> tuple[float | None, float | None, float | None]:
    if not isinstance(d, Mapping):
        return None, None, None
    return _num(d.get("value")), _num(d.get("lower")), _num(d.get("upper"))


# --------------------------------------------------------------------------- figures


def _drift_figures(
    ws: Sequence[Mapping[str, Any]], times: Sequence[str], figs: Figures
) -> list[dict[str, str]]:
    drifts = [_part(s, "drift") for s in ws]
    if not any(d for d in drifts):
        return []
    xs = [_t(s) for s in ws]
    share = [_num(d.get("share_drifted")) for d in drifts]
    tops = [
        "<br>".join(
            f"{_text(c.get('column'))}: {_text(c.get('statistic'))} {_num(c.get('value')) or 0:.3g}"
            + (" (drifted)" if c.get("drifted") else "")
            for c in (d.get("top_columns") or [])[:5]
        )
        or "no column tested"
        for d in drifts
    ]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=share,
            mode=_mode(len(xs)),
            name="share of columns drifted",
            line={"color": PALETTE[0]},
            customdata=tops,
            hovertemplate="%{y:.2f} drifted<br>%{customdata}<extra></extra>",
        )
    )
    _time_layout(fig, "Drift: share of columns drifted", "share drifted", times)
    fig.update_yaxes(range=[0, 1.02])
    out = [figs.add(fig, "Drift: share of columns drifted")]

    # Each column that is often among the top drifted ones, as its own line (its statistic).
    counts: Counter[str] = Counter()
    for d in drifts:
        for c in d.get("top_columns") or []:
            counts[str(c.get("column"))] += 1 + bool(c.get("drifted"))
    columns = [c for c, _ in counts.most_common(MAX_COLUMN_LINES)]
    if columns:
        fig = go.Figure()
        for i, col in enumerate(columns):
            ys: list[float | None] = []
            symbols: list[str] = []
            stat = ""
            for d in drifts:
                row = next(
                    (c for c in d.get("top_columns") or [] if str(c.get("column")) == col), None
                )
                ys.append(_num(row.get("value")) if row else None)
                symbols.append("circle" if row and row.get("drifted") else "circle-open")
                stat = stat or (str(row.get("statistic")) if row else "")
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines+markers",
                    name=_text(f"{col} ({stat})" if stat else col),
                    line={"color": PALETTE[i % len(PALETTE)], "width": 1.5},
                    marker={"symbol": symbols, "size": 7},
                    connectgaps=False,
                    hovertemplate=_text(col) + " %{y:.3g}<extra></extra>",
                )
            )
        title = "Top drifted columns (filled: drifted; gaps: not among the window's top 5)"
        _time_layout(fig, title, "statistic", times)
        out.append(figs.add(fig, "Top drifted columns"))
    return out


def _metric_names(ws: Sequence[Mapping[str, Any]]) -> list[str]:
    names: list[str] = []
    for s in ws:
        for part in ("estimated", "realised"):
            for k in s.get(part) or {}:
                if k not in names:
                    names.append(str(k))
    return names[:MAX_METRIC_CHARTS]


def _performance_figures(
    ws: Sequence[Mapping[str, Any]], times: Sequence[str], figs: Figures
) -> list[dict[str, str]]:
    out = []
    xs = [_t(s) for s in ws]
    for name in _metric_names(ws):
        est = [_est((s.get("estimated") or {}).get(name)) for s in ws]
        real = [_est((s.get("realised") or {}).get(name)) for s in ws]
        n_real = [((s.get("realised") or {}).get(name) or {}).get("n") for s in ws]
        fig = go.Figure()
        if any(v is not None for v, _, _ in est):
            _band(
                fig, xs, [e[1] for e in est], [e[2] for e in est], "estimated interval", PALETTE[0]
            )
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=[e[0] for e in est],
                    mode=_mode(len(xs)),
                    name="estimated (no labels)",
                    line={"color": PALETTE[0]},
                    hovertemplate="estimated %{y:.4f}<extra></extra>",
                )
            )
        if any(v is not None for v, _, _ in real):
            _with_interval(
                fig,
                xs,
                real,
                name="realised (labelled)",
                color=PALETTE[1],
                mode="markers",
                hover="realised",
                notes=[f"n={n}" if n is not None else "" for n in n_real],
            )
        title = f"{name}: estimated vs realised"
        _time_layout(fig, title, name, times)
        out.append(figs.add(fig, title))
    return out


def _group_figures(
    ws: Sequence[Mapping[str, Any]], times: Sequence[str], figs: Figures
) -> list[dict[str, str]]:
    # (attribute, metric) → group value → per-window estimate
    series: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for i, s in enumerate(ws):
        for attr, by_value in (s.get("groups") or {}).items():
            for value, metrics in (by_value or {}).items():
                for metric, e in (metrics or {}).items():
                    lines = series.setdefault((str(attr), str(metric)), {})
                    lines.setdefault(str(value), [None] * len(ws))[i] = _est(e)
    out = []
    xs = [_t(s) for s in ws]
    for (attr, metric), lines in series.items():
        fig = go.Figure()
        for j, (value, ests) in enumerate(list(lines.items())[:MAX_GROUP_LINES]):
            color = PALETTE[j % len(PALETTE)]
            e = [x if x is not None else (None, None, None) for x in ests]
            label = _text(f"{attr}={value}")
            _with_interval(fig, xs, e, name=label, color=color, mode=_mode(len(xs)), hover=label)
        title = f"{metric} by {attr}"
        _time_layout(fig, title, metric, times)
        out.append(figs.add(fig, title))
    return out


def _latency_figure(
    ws: Sequence[Mapping[str, Any]], times: Sequence[str], figs: Figures
) -> list[dict[str, str]]:
    lat = [_part(s, "latency") for s in ws]
    if not any(d for d in lat):
        return []
    xs = [_t(s) for s in ws]
    fig = go.Figure()
    for i, key in enumerate(("p50_ms", "p95_ms", "p99_ms")):
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[_num(d.get(key)) for d in lat],
                mode=_mode(len(xs)),
                name=key.replace("_ms", ""),
                line={"color": PALETTE[i]},
                hovertemplate=key.replace("_ms", "") + " %{y:.1f} ms<extra></extra>",
            )
        )
    _time_layout(fig, "Latency", "milliseconds", times)
    return [figs.add(fig, "Latency")]


def _volume_figure(
    ws: Sequence[Mapping[str, Any]], times: Sequence[str], figs: Figures
) -> list[dict[str, str]]:
    xs = [_t(s) for s in ws]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=xs,
            y=[_num(s.get("n_events")) for s in ws],
            name="events",
            marker={"color": PALETTE[4]},
        )
    )
    fig.add_trace(
        go.Bar(
            x=xs,
            y=[_num(s.get("n_labelled")) for s in ws],
            name="labelled",
            marker={"color": PALETTE[2]},
        )
    )
    _time_layout(fig, "Events and labels per window", "events", times, barmode="group")
    return [figs.add(fig, "Events and labels per window")]


# --------------------------------------------------------------------------- page


def _short_time(t: Any) -> str:
    """``2018-07-14T22:00:00+00:00`` → ``2018-07-14 22:00`` (other texts unchanged)."""
    try:
        return datetime.fromisoformat(str(t).replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(t)


def _fmt_est(d: Any) -> str:
    v, lo, hi = _est(d)
    if v is None:
        return "—"
    if lo is None or hi is None:
        return f"{v:.3f}"
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


def _rows(
    ws: Sequence[Mapping[str, Any]], report_url: Callable[[int], str], metric: str | None
) -> list[dict[str, Any]]:
    rows = []
    for s in reversed(ws):  # newest first
        drift = s.get("drift") or {}
        top = [c for c in drift.get("top_columns") or [] if c.get("drifted")]
        wid = s.get("id")
        rows.append(
            {
                "id": wid,
                "start": _short_time(s.get("start", "")),
                "end": _short_time(s.get("end", "")),
                "n_events": s.get("n_events", ""),
                "n_labelled": s.get("n_labelled", ""),
                "versions": ", ".join(str(v) for v in s.get("model_versions") or []),
                "share": _num(drift.get("share_drifted")),
                "drifted": ", ".join(str(c.get("column")) for c in top),
                "estimated": _fmt_est((s.get("estimated") or {}).get(metric)) if metric else "—",
                "realised": _fmt_est((s.get("realised") or {}).get(metric)) if metric else "—",
                "p95": _num((s.get("latency") or {}).get("p95_ms")),
                "passed": s.get("passed"),
                "alerts": _firing(s),
                "url": report_url(int(wid)) if isinstance(wid, int) else None,
            }
        )
    return rows


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(_HERE), str(TEMPLATES)]),  # report.css from there
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.lru_cache(maxsize=1)
def _plotly_js() -> Markup:
    return Markup(PLOTLY_BUNDLE.read_text(encoding="utf-8"))


def render_dashboard(
    summaries: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]],
    *,
    title: str,
    report_url: Callable[[int], str],
) -> str:
    """The monitor's dashboard as one self-contained HTML page (Plotly and CSS inlined).

    Args:
        summaries: window summaries, in any order (drawn by ``start``): ``id``, ``start``,
            ``end``, ``n_events``, ``n_labelled``, and where their checks ran ``drift``,
            ``estimated``, ``realised``, ``groups``, ``latency``, ``passed``, ``alerts``.
            Absent keys are gaps.
        alerts: alert records (``gate``, ``state``, and ``window_id`` or ``started_at``);
            firing ones are marked on the time axis and listed.
        title: the page's heading (the monitor's name).
        report_url: the link to window ``id``'s full HTML report
            (the server's ``/v1/windows/{id}/report.html``).

    Returns:
        The HTML document.

    Example:
        >>> html = render_dashboard([], [], title="demo", report_url=lambda i: f"/w/{i}")
        >>> "No windows yet" in html
        True
    """
    ws = _sorted(summaries)
    figs = Figures()
    times = _alert_times(ws, alerts)
    charts: dict[str, list[dict[str, str]]] = {
        k: [] for k in ("drift", "performance", "groups", "latency")
    }
    if ws:
        charts = {
            "drift": _drift_figures(ws, times, figs),
            "performance": _performance_figures(ws, times, figs),
            "groups": _group_figures(ws, times, figs),
            "latency": _latency_figure(ws, times, figs) + _volume_figure(ws, times, figs),
        }
    metrics = _metric_names(ws)
    firing = [a for a in alerts if a.get("state", "firing") == "firing"]
    return (
        _env()
        .get_template("dashboard.html.j2")
        .render(
            title=title,
            n_windows=len(ws),
            first=_short_time(_t(ws[0])) if ws else "",
            last=_short_time(_t(ws[-1])) if ws else "",
            n_events=sum(int(_num(s.get("n_events")) or 0) for s in ws),
            n_failed=sum(s.get("passed") is False for s in ws),
            charts=charts,
            metric=metrics[0] if metrics else None,
            rows=_rows(ws, report_url, metrics[0] if metrics else None),
            alerts=list(alerts),
            n_firing=len(firing),
            n_alert_windows=len(times),
            figures_json=figs.script_json(),
            plotly_js=_plotly_js(),
        )
    )
