"""The latency section of the HTML report: a table per load level (percentiles with their
intervals, rates, throughput, goodput, SLO verdict), the capacity verdict, and three plots —
latency against load (p50/p95/p99 with intervals, and throughput), the latency histogram of each
level, and the time-to-first-token distribution of streamed answers.

The builder reads only ``tables["latency"]`` of the ``CheckResult`` (``LoadReport.to_dict()``);
the histograms are the HdrHistograms the summary encoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
from hdrh.histogram import HdrHistogram

from assay.report import _plots
from assay.report._schema import CheckResult, Report

__all__ = ["build_latency"]

_SHOWN = (
    ("p50", "p50_ms"),
    ("p90", "p90_ms"),
    ("p95", "p95_ms"),
    ("p99", "p99_ms"),
    ("p99.9", "p99_9_ms"),
    ("mean", "mean_ms"),
    ("max", "max_ms"),
)
_CURVES = (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"))


def _cell(est: Any) -> dict[str, Any] | None:
    return dict(est) if isinstance(est, Mapping) and est.get("value") is not None else None


def _buckets(encoded: str) -> tuple[list[float], list[int]]:
    """Bucket midpoints (ms) and counts of an encoded HdrHistogram, merged to about 40 bars."""
    if not encoded:
        return [], []
    h = HdrHistogram.decode(encoded.encode("ascii"))
    lo, hi = h.get_min_value(), h.get_max_value()
    if hi <= lo:
        return [lo / 1000.0], [h.get_total_count()]
    width = max((hi - lo) / 40.0, 1.0)
    counts = [0] * 41
    for item in h.get_recorded_iterator():
        counts[min(int((item.value_iterated_to - lo) / width), 40)] += (
            item.count_at_value_iterated_to
        )
    xs = [(lo + (i + 0.5) * width) / 1000.0 for i in range(41)]
    return xs, counts


def _vs_load(table: Mapping[str, Any], mode: str, names: list[str]) -> go.Figure:
    fig = go.Figure()
    levels = [table[n]["level"] for n in names]
    for i, (label, key) in enumerate(_CURVES):
        cells = [_cell(table[n].get(key)) for n in names]
        ys = [c["value"] if c else None for c in cells]
        up = [(c["upper"] - c["value"]) if c and c.get("upper") is not None else 0 for c in cells]
        down = [(c["value"] - c["lower"]) if c and c.get("lower") is not None else 0 for c in cells]
        fig.add_trace(
            go.Scatter(
                x=levels,
                y=ys,
                name=label,
                mode="lines+markers",
                line={"color": _plots.PALETTE[i]},
                error_y={"type": "data", "array": up, "arrayminus": down, "visible": True},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=levels,
            y=[table[n].get("throughput_rps") for n in names],
            name="throughput (req/s)",
            mode="lines+markers",
            yaxis="y2",
            line={"color": _plots._MUTED, "dash": "dot"},
        )
    )
    _plots._layout(
        fig,
        title=f"latency against {mode.replace('_', ' ')}",
        x=mode.replace("_", " "),
        y="latency (ms)",
        height=380,
        yaxis2={"title": {"text": "requests/s"}, "overlaying": "y", "side": "right"},
    )
    return fig


def _histogram(
    table: Mapping[str, Any], names: list[str], key: str, title: str
) -> go.Figure | None:
    fig = go.Figure()
    for i, n in enumerate(names):
        xs, ys = _buckets(str(table[n].get(key) or ""))
        if xs:
            fig.add_trace(
                go.Bar(
                    x=xs,
                    y=ys,
                    name=n,
                    opacity=0.6,
                    marker_color=_plots.PALETTE[i % len(_plots.PALETTE)],
                )
            )
    if not fig.data:
        return None
    _plots._layout(fig, title=title, x="ms", y="requests", height=320)
    fig.update_layout(barmode="overlay", bargap=0.02)
    return fig


def _server_rows(table: Mapping[str, Any], names: list[str]) -> list[dict[str, Any]]:
    """One row per level and server-side latency histogram or queue gauge (``server`` of each
    level: the endpoint's ``/metrics``)."""
    rows: list[dict[str, Any]] = []
    for n in names:
        server = table[n].get("server")
        if not isinstance(server, Mapping):
            continue
        if server.get("error"):
            rows.append({"level": n, "metric": server["error"], "kind": "error"})
            continue
        for metric, h in (server.get("histograms") or {}).items():
            rows.append(
                {
                    "level": n,
                    "metric": metric,
                    "kind": "histogram",
                    "count": h.get("count"),
                    "client": server.get("client_requests"),
                    "p50": h.get("p50_ms"),
                    "p95": h.get("p95_ms"),
                    "mean": h.get("mean_ms"),
                }
            )
        for metric, g in (server.get("gauges") or {}).items():
            rows.append(
                {"level": n, "metric": metric, "kind": "gauge", "mean": g["mean"], "max": g["max"]}
            )
    return rows


def build_latency(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Context of ``section_latency.html.j2``."""
    table = r.tables.get("latency") or {}
    names = [n for n in table.get("steps") or [] if isinstance(table.get(n), Mapping)]
    rows = []
    for n in names:
        s = table[n]
        rows.append(
            {
                "name": n,
                "step": s,
                "cells": [(label, _cell(s.get(key))) for label, key in _SHOWN],
                "ttft": _cell((s.get("ttft") or {}).get("p95_ms")),
                "itl": _cell((s.get("itl") or {}).get("p50_ms")),
            }
        )
    plots = []
    by_mode: dict[str, list[str]] = {}
    for n in names:
        by_mode.setdefault(str(table[n]["mode"]), []).append(n)
    for mode, ns in by_mode.items():
        if len(ns) > 1:
            plots.append(figs.add(_vs_load(table, mode, ns), f"latency against {mode}"))
    hist = _histogram(table, names, "histogram", "latency histogram (from the scheduled send)")
    if hist is not None:
        plots.append(figs.add(hist, "latency histogram"))
    ttft = _histogram(table, names, "ttft_histogram", "time to first token")
    if ttft is not None:
        plots.append(figs.add(ttft, "time to first token"))
    return {
        "table": table,
        "spec": str((table.get("model") or {}).get("spec") or r.model),
        "deadline": _cell(table.get("deadline_miss_rate")),
        "cold_start_s": table.get("cold_start_s"),
        "peak_rss_mb": table.get("peak_rss_mb"),
        "rows": rows,
        "shown": [label for label, _ in _SHOWN],
        "streamed": any(row["ttft"] for row in rows),
        "slo": any(table[n].get("meets_slo") is not None for n in names),
        "capacity": {
            k: (table.get("capacity") or {}).get(k)
            for k in ("mode", "knee", "max_level_at_slo", "max_rps_at_slo", "p95_ms_at_slo")
        },
        "plots": plots,
        "server": _server_rows(table, names),
    }
