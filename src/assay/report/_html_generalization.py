"""HTML sections of the generalization pillar: training curves, cross-validation, leakage.

Builders take one ``CheckResult`` (and the figure collector of the render) and return the context
of their template; figures are Plotly figures drawn from the result's tables only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from assay.report._plots import PALETTE, _layout, _nums, _text
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["build_cv", "build_generalization", "build_leakage", "curves_figure"]

_VERDICT_BADGE = {"none": "pass", "mild": "warn", "severe": "fail"}


def _metric_rows(metrics: Mapping[str, Estimate], keys: list[str]) -> list[dict[str, Any]]:
    return [{"name": k, "est": metrics[k]} for k in keys if k in metrics]


def curves_figure(curves: Mapping[str, Any]) -> go.Figure:
    """Training and validation curves (raw and smoothed) with the best step and divergence marked."""
    fig = go.Figure()
    tr = curves.get("curves", {}).get("train", {})
    va = curves.get("curves", {}).get("validation", {})
    for d, colour, label in ((tr, PALETTE[0], "training"), (va, PALETTE[1], "validation")):
        xs = _nums(d.get("steps", []))
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=_nums(d.get("values", [])),
                mode="lines",
                name=f"{label} (raw)",
                line={"color": colour, "width": 1},
                opacity=0.35,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=_nums(d.get("smoothed", [])),
                mode="lines+markers" if label == "validation" else "lines",
                name=_text(f"{label}: {d.get('name', '')}"),
                line={"color": colour, "width": 2},
            )
        )
    for key, text, colour in (
        ("best_step", "best", PALETTE[2]),
        ("divergence_step", "divergence", "#c0392b"),
        ("early_stop_step", "early stop", PALETTE[3]),
    ):
        x = curves.get(key)
        if isinstance(x, (int, float)):
            fig.add_vline(
                x=x,
                line={"color": colour, "dash": "dash", "width": 1.5},
                annotation_text=text,
                annotation_position="top",
            )
    _layout(
        fig, title=f"{curves.get('metric', '')} by step", x="step", y=str(curves.get("metric", ""))
    )
    return fig


def build_generalization(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Diagnosis of the training curves (with the figure) and the train–test gap."""
    curves = r.tables.get("curves")
    plots = []
    diag = None
    if isinstance(curves, Mapping):
        plots.append(figs.add(curves_figure(curves), "Training curves"))
        diag = {
            "verdict": curves.get("verdict"),
            "badge": _VERDICT_BADGE.get(str(curves.get("verdict")), "warn"),
            "recommendation": curves.get("recommendation"),
            "rows": [
                (k.replace("_", " "), _curve_value(k, curves.get(k)))
                for k in (
                    "metric",
                    "train_series",
                    "validation_series",
                    "direction",
                    "best_step",
                    "last_step",
                    "best_validation",
                    "last_validation",
                    "gap_at_best",
                    "gap_at_last",
                    "validation_rise",
                    "divergence_step",
                    "early_stop_step",
                )
            ],
            "source": curves.get("source"),
            "notes": curves.get("notes") or [],
        }
    gap = r.tables.get("train_test")
    gap_rows = _metric_rows(r.metrics, [k for k in r.metrics if not k.startswith("curves.")])
    return {
        "diag": diag,
        "plots": plots,
        "gap": gap if isinstance(gap, Mapping) else None,
        "gap_rows": gap_rows,
        "notes": r.tables.get("notes") or [],
    }


def _curve_value(key: str, value: Any) -> Any:
    """Steps as whole numbers; a divergence or early-stopping step that was not found is "none"
    (not "undefined": the diagnosis looked and found no such step)."""
    if key.endswith("_step"):
        if value is None:
            return "none" if key in ("divergence_step", "early_stop_step") else value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    return value


def build_cv(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Per-fold table, the Nadeau–Bengio summary, and fold / learning-curve figures."""
    t = r.tables
    names = [str(m) for m in t.get("metric_names") or []]
    plots = []
    per_fold = [row for row in t.get("per_fold") or [] if isinstance(row, Mapping)]
    full = [row for row in per_fold if row.get("fraction") == 1.0]
    if full and names:
        fig = go.Figure()
        for i, m in enumerate(names):
            ys = [row.get(m) for row in full]
            fig.add_trace(
                go.Scatter(
                    x=[_text(row.get("fold")) for row in full],
                    y=_nums(ys),
                    mode="markers",
                    name=_text(m),
                    marker={"color": PALETTE[i % len(PALETTE)], "size": 9},
                )
            )
            est = r.metrics.get(m)
            if est is not None and est.defined:
                fig.add_hline(y=est.value, line={"color": PALETTE[i % len(PALETTE)], "dash": "dot"})
        _layout(fig, title="Metric per fold (dotted: mean)", x="fold", y="value")
        plots.append(figs.add(fig, "Metric per fold"))
    curve = [p for p in t.get("learning_curve") or [] if isinstance(p, Mapping)]
    if curve and names:
        fig = go.Figure()
        for i, m in enumerate(names):
            pts: list[tuple[Any, Mapping[str, Any]]] = [
                (p.get("n_train"), p[m]) for p in curve if isinstance(p.get(m), Mapping)
            ]
            if not pts:
                continue
            xs = [x for x, _ in pts]
            val = [e.get("value") for _, e in pts]
            lo = [e.get("value", 0) - (e.get("lower") or e.get("value", 0)) for _, e in pts]
            hi = [(e.get("upper") or e.get("value", 0)) - e.get("value", 0) for _, e in pts]
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=_nums(val),
                    mode="lines+markers",
                    name=_text(m),
                    line={"color": PALETTE[i % len(PALETTE)]},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": _nums(hi),
                        "arrayminus": _nums(lo),
                    },
                )
            )
        _layout(fig, title="Learning curve (Nadeau–Bengio intervals)", x="training rows", y="value")
        plots.append(figs.add(fig, "Learning curve"))
    return {
        "summary": _metric_rows(r.metrics, names),
        "sd": {m: r.metrics[f"fold_sd.{m}"].value for m in names if f"fold_sd.{m}" in r.metrics},
        "names": names,
        "per_fold": per_fold,
        "plots": plots,
        "info": {k: t.get(k) for k in ("fit", "scheme", "folds", "repeats", "dataset")},
        "notes": t.get("notes") or [],
    }


def build_leakage(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Duplicate counts and examples, metrics with and without contaminated rows, label leakage."""
    t = r.tables
    rec = t.get("recomputed") if isinstance(t.get("recomputed"), Mapping) else None
    rows = []
    if rec:
        for row in rec.get("rows") or []:
            rows.append(
                {
                    "rows": row.get("rows"),
                    "n": row.get("n"),
                    "ests": {
                        m: Estimate.from_dict(dict(row[m]))
                        for m in rec.get("metrics", [])
                        if isinstance(row.get(m), Mapping)
                    },
                }
            )
    return {
        "dup": t.get("duplicates") if isinstance(t.get("duplicates"), Mapping) else None,
        "rates": _metric_rows(
            r.metrics, ["exact.rate", "near.rate", "embedding.rate", "contaminated.rate"]
        ),
        "metric_names": list(rec.get("metrics", [])) if rec else [],
        "recomputed": rows,
        "label_leakage": [x for x in t.get("label_leakage") or [] if isinstance(x, Mapping)],
        "memorisation": _metric_rows(
            r.metrics, [k for k in r.metrics if k.startswith("memorisation.")]
        ),
        "examples": r.examples[:20],
        "notes": t.get("notes") or [],
    }
