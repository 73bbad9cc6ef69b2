"""The robustness section of the HTML report: perturbation table, forest of flip rates, severity
curves, directional/MFT/adversarial tables and failing examples (original and perturbed side by
side with both predictions)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from assay.report import _plots
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["build_robustness"]

_MAX_EXAMPLES = 40


def _severity_figure(curves: Mapping[str, list[tuple[float, Estimate]]]) -> go.Figure:
    fig = go.Figure()
    for j, (name, pts) in enumerate(curves.items()):
        pts = sorted(pts)
        xs = [s for s, _ in pts]
        ys = [e.value for _, e in pts]
        hi = [e.upper - e.value if math.isfinite(e.upper) else 0 for _, e in pts]
        lo = [e.value - e.lower if math.isfinite(e.lower) else 0 for _, e in pts]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                name=name,
                line={"color": _plots.PALETTE[j % len(_plots.PALETTE)]},
                error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
            )
        )
    _plots._layout(fig, title="Accuracy by severity", x="severity", y="accuracy")
    return fig


def build_robustness(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Context of ``section_robustness.html.j2``."""
    m = r.metrics
    rows = []
    points = []
    curves: dict[str, list[tuple[float, Estimate]]] = {}
    for row in r.tables.get("perturbations") or []:
        key = str(row.get("key"))
        ests = {
            k: m[f"{key}.{k}"]
            for k in ("accuracy", "degradation", "flip_rate", "violation_rate")
            if f"{key}.{k}" in m
        }
        rows.append({**row, "ests": ests, "steps": ", ".join(row.get("steps") or [])})
        fr = ests.get("flip_rate")
        if fr is not None and fr.defined:
            points.append(
                {
                    "name": f"{key} (n={row.get('n')})",
                    "value": fr.value,
                    "lower": fr.lower,
                    "upper": fr.upper,
                    "n": row.get("n"),
                    "flagged": False,
                    "too_small": False,
                }
            )
        sev = row.get("severity")
        if sev is not None and "@" in key and "accuracy" in ests:
            curves.setdefault(str(row.get("name")), []).append((float(sev), ests["accuracy"]))
    plots = []
    if points:
        forest = _plots.forest_figure(points, metric="flip rate")
        forest.update_layout(title={"text": "Flip rate by perturbation"})
        plots.append(figs.add(forest, "flip rate by perturbation"))
    curves = {k: v for k, v in curves.items() if len(v) > 1}
    if curves:
        plots.append(figs.add(_severity_figure(curves), "accuracy by severity"))
    directional = [
        {**d, "est": m.get(f"directional.{d.get('name')}.failure_rate")}
        for d in r.tables.get("directional") or []
    ]
    mft = [
        {**d, "est": m.get(f"mft.{d.get('name')}.failure_rate")} for d in r.tables.get("mft") or []
    ]
    adv = r.tables.get("adversarial")
    adversarial = None
    if adv:
        adversarial = {
            "n": adv.get("n"),
            "budget": adv.get("budget"),
            "success": m.get("adversarial.success_rate"),
            "words": m.get("adversarial.words_changed"),
            "queries": m.get("adversarial.queries"),
            "examples": adv.get("examples") or [],
        }
    return {
        "rows": rows,
        "robust": m.get("robust_accuracy"),
        "has_violation": any("violation_rate" in row["ests"] for row in rows),
        "has_errors": any(row.get("n_errors") for row in rows),
        "directional": directional,
        "mft": mft,
        "mft_total": m.get("mft.failure_rate"),
        "adversarial": adversarial,
        "examples": r.examples[:_MAX_EXAMPLES],
        "n_examples": len(r.examples),
        "plots": plots,
    }
