"""The domain_shift section of the HTML report: seen against unseen, a table of domains and one of
periods (each with its interval and n), and forest plots of accuracy with the in-domain reference.

The builder reads only the ``CheckResult`` (and, for the reference line when no domains are marked
seen, the accuracy of the performance result of the same model and dataset).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from assay.report import _plots
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["build_domain_shift"]


def _est(x: Any) -> Estimate | None:
    if isinstance(x, Estimate):
        return x
    return Estimate.from_dict(dict(x)) if isinstance(x, Mapping) else None


def _performance_accuracy(report: Report, r: CheckResult) -> float | None:
    for other in report.results:
        if other.check == "performance" and other.model == r.model and other.dataset == r.dataset:
            e = other.metrics.get("accuracy")
            if e is not None and math.isfinite(e.value):
                return e.value
    return None


def _reference_line(fig: go.Figure, x: float | None, text: str) -> None:
    if x is not None and math.isfinite(x):
        fig.add_vline(
            x=x,
            line={"color": _plots._MUTED, "dash": "dash", "width": 1.2},
            annotation_text=_plots._text(text),
            annotation_position="top",
        )


def _domain_rows(r: CheckResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for row in r.tables.get("domains") or []:
        if not isinstance(row, Mapping):
            continue
        gap = _est(row.get("gap"))
        rows.append(
            {
                "name": str(row.get("domain", "")),
                "n": row.get("n"),
                "seen": bool(row.get("seen")),
                "too_small": bool(row.get("too_small")),
                "accuracy": _est(row.get("accuracy")),
                "gap": gap,
                "worse": bool(row.get("worse")),
                "better": gap is not None and gap.defined and gap.lower > 0,
            }
        )
    # Seen domains first, then unseen, each by size; domains too small to score go to a list.
    rows.sort(key=lambda x: (not x["seen"], -(x["n"] or 0), x["name"]))
    return rows


def _period_rows(r: CheckResult) -> list[dict[str, Any]]:
    rows = []
    for row in r.tables.get("periods") or []:
        if not isinstance(row, Mapping):
            continue
        gap = _est(row.get("gap"))
        rows.append(
            {
                "name": str(row.get("period", "")),
                "n": row.get("n"),
                "too_small": bool(row.get("too_small")),
                "reference": bool(row.get("reference")),
                "accuracy": _est(row.get("accuracy")),
                "gap": gap,
                "worse": gap is not None and gap.defined and gap.upper < 0,
                "better": gap is not None and gap.defined and gap.lower > 0,
            }
        )
    return rows


def _points(rows: list[dict[str, Any]], *, label_seen: bool) -> list[dict[str, Any]]:
    points = []
    for row in rows:
        acc = row["accuracy"]
        if acc is None or not acc.defined:
            continue
        tag = ("seen, " if row.get("seen") else "unseen, ") if label_seen else ""
        if row.get("reference"):
            tag = "reference, "
        points.append(
            {
                "name": f"{row['name']} ({tag}n={row['n']})",
                "value": acc.value,
                "lower": acc.lower,
                "upper": acc.upper,
                "n": row["n"],
                "flagged": row["worse"],
                "too_small": False,
            }
        )
    return points


def _period_figure(rows: list[dict[str, Any]], reference: float | None) -> go.Figure:
    """Accuracy per period, in time order, with intervals; periods worse than the reference red."""
    scored = [row for row in rows if row["accuracy"] is not None and row["accuracy"].defined]
    xs = [_plots._text(row["name"]) for row in scored]
    ys = [row["accuracy"].value for row in scored]
    hi = [row["accuracy"].upper - row["accuracy"].value for row in scored]
    lo = [row["accuracy"].value - row["accuracy"].lower for row in scored]
    colours = [_plots._BAD if row["worse"] else _plots.PALETTE[0] for row in scored]
    hover = [f"n={row['n']}" + (" · reference" if row["reference"] else "") for row in scored]
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers",
            line={"color": _plots.PALETTE[0], "width": 1},
            marker={"color": colours, "size": 9, "symbol": "square"},
            error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
            customdata=hover,
            hovertemplate="%{x}<br>%{y:.3f}<br>%{customdata}<extra></extra>",
            name="accuracy",
        )
    )
    _plots._layout(fig, title="Accuracy by period", x="period", y="accuracy", showlegend=False)
    fig.update_xaxes(type="category")
    if reference is not None and math.isfinite(reference):
        fig.add_hline(
            y=reference,
            line={"color": _plots._MUTED, "dash": "dash", "width": 1.2},
            annotation_text="reference period",
            annotation_position="top left",
        )
    return fig


def build_domain_shift(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Context of ``section_domain_shift.html.j2``."""
    m = r.metrics
    seen = [str(s) for s in r.tables.get("seen") or []]
    domains = _domain_rows(r)
    periods = _period_rows(r)
    seen_acc = m.get("seen.accuracy")
    reference: float | None
    if seen_acc is not None and seen_acc.defined:
        reference, ref_text = seen_acc.value, "seen (in-domain)"
    else:
        reference, ref_text = _performance_accuracy(report, r), "all domains"
    plots = []
    points = _points([d for d in domains if not d["too_small"]], label_seen=bool(seen))
    unseen_acc, gap = m.get("unseen.accuracy"), m.get("gap")
    if unseen_acc is not None and unseen_acc.defined:
        # Unseen domains are often many and small: pooled, they still say something.
        points.append(
            {
                "name": f"all unseen domains (pooled, n={unseen_acc.n})",
                "value": unseen_acc.value,
                "lower": unseen_acc.lower,
                "upper": unseen_acc.upper,
                "n": unseen_acc.n,
                "flagged": gap is not None and gap.defined and gap.upper < 0,
                "too_small": False,
            }
        )
    if points:
        fig = _plots.forest_figure(points, metric="accuracy")
        fig.update_layout(title={"text": "Accuracy by domain"}, margin={"t": 64})
        _reference_line(fig, reference, ref_text)
        plots.append(figs.add(fig, "accuracy by domain"))
    ref_period = next((p for p in periods if p["reference"]), None)
    if sum(1 for p in periods if p["accuracy"] is not None) > 1:
        ref_value = ref_period["accuracy"].value if ref_period and ref_period["accuracy"] else None
        plots.append(figs.add(_period_figure(periods, ref_value), "accuracy by period"))
    return {
        "seen": seen,
        "summary": {
            "seen": seen_acc,
            "unseen": m.get("unseen.accuracy"),
            "gap": m.get("gap"),
        },
        "gap_worse": bool((g := m.get("gap")) is not None and g.defined and g.upper < 0),
        "domains": [d for d in domains if not d["too_small"]],
        "small_domains": [d for d in domains if d["too_small"]],
        "periods": periods,
        "reference_period": r.tables.get("reference_period"),
        "min_n": r.tables.get("min_n"),
        "n_worse": sum(d["worse"] for d in domains) + sum(p["worse"] for p in periods),
        "plots": plots,
    }
