"""The generation section of the HTML report: reference metrics with their intervals, lengths,
latency and cost, the judge's verdicts (pointwise score distribution, pairwise win rate with the
position-bias count, agreement with human labels) and the unparseable, refused and mismatched
answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from assay.metrics import MetricInfo, metrics_for
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["build_generation"]

#: The generation metrics of each part of the section, in display order (the catalogue's
#: ``family`` of each generation metric).
_FAMILIES = ("reference", "answers", "length", "serving", "judge")
SPEC: dict[str, tuple[MetricInfo, ...]] = {
    family: tuple(m for m in metrics_for("generation") if m.family == family)
    for family in _FAMILIES
}
_KINDS = {"unparseable": "named no label", "refusal": "refused", "mismatch": "not an exact match"}
_MAX_EXAMPLES = 20


def _rows(metrics: Mapping[str, Estimate], family: str) -> list[dict[str, Any]]:
    return [
        {"name": m.name, "pretty": m.display, "est": metrics[m.name], "direction": m.direction}
        for m in SPEC[family]
        if m.name in metrics
    ]


def _score_figure(counts: Mapping[str, int], judge: str) -> go.Figure:
    keys = sorted(counts, key=int)
    fig = go.Figure(
        go.Bar(
            x=keys,
            y=[int(counts[k]) for k in keys],
            marker={"color": "#4c72b0"},
            hovertemplate="score %{x}: %{y} answers<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": f"Scores given by the judge ({judge})"},
        xaxis={"title": "score", "type": "category"},
        yaxis={"title": "answers", "rangemode": "tozero"},
        height=300,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        template="plotly_white",
    )
    return fig


def build_generation(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Context of ``section_generation.html.j2``."""
    t = r.tables
    m = r.metrics
    raw_judge = t.get("judge")
    judge: Mapping[str, Any] = raw_judge if isinstance(raw_judge, Mapping) else {}
    plots = []
    counts = judge.get("score_counts")
    if isinstance(counts, Mapping) and any(int(v) for v in counts.values()):
        plots.append(figs.add(_score_figure(counts, str(judge.get("judge", ""))), "judge scores"))
    flips = judge.get("order_flips")
    n_pairs = judge.get("n_pairs")
    verdicts = [v for v in judge.get("verdicts") or [] if isinstance(v, Mapping)]
    raw_usage = t.get("usage")
    usage: Mapping[str, Any] = raw_usage if isinstance(raw_usage, Mapping) else {}
    raw_latency = t.get("latency")
    latency: Mapping[str, Any] = raw_latency if isinstance(raw_latency, Mapping) else {}
    examples = []
    for e in r.examples[:_MAX_EXAMPLES]:
        kind = str(e.get("kind", ""))
        examples.append(
            {
                "id": e.get("id"),
                "kind": _KINDS.get(kind, kind),
                "bad": kind in ("unparseable", "refusal"),
                "output": e.get("output", ""),
                "reference": e.get("reference"),
            }
        )
    examples.sort(key=lambda x: not x["bad"])
    return {
        "reference": t.get("reference"),
        "quality": _rows(m, "reference"),
        "answers": _rows(m, "answers"),
        "lengths": _rows(m, "length"),
        "serving": _rows(m, "serving"),
        "judge_rows": _rows(m, "judge"),
        "judge": {
            "name": judge.get("judge"),
            "mode": judge.get("mode"),
            "n_verdicts": judge.get("n_verdicts"),
            "n_parse_failures": judge.get("n_parse_failures"),
            "order_flips": flips,
            "n_pairs": n_pairs,
            "position_bias": bool(flips),
            "verdicts": verdicts[:10],
        }
        if judge
        else None,
        "usage": [
            (k, int(usage[k]) if k.endswith("_tokens") else usage[k])
            for k in ("prompt_tokens", "completion_tokens", "cost")
            if k in usage
        ],
        "latency": [
            (label, latency[k])
            for k, label in (
                ("mean_s", "mean"),
                ("p50_s", "median"),
                ("p95_s", "95th percentile"),
                ("max_s", "max"),
            )
            if k in latency
        ],
        "latency_source": (
            "each request's own latency, measured by the adapter"
            if latency.get("source") == "request"
            else "wall time of the call (a batch's time shared by its answers)"
        )
        + (
            f"; {latency['n_cached']} from the cache, measured "
            f"{latency.get('measured_from', '?')} to {latency.get('measured_to', '?')}"
            if latency.get("n_cached")
            else ""
        ),
        "examples": examples,
        "flags": list(r.flags),
        "plots": plots,
    }
