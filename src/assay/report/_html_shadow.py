"""The shadow section of the HTML report (``assay shadow``): agreement with production, the
paired metric differences on the labelled events, latency side by side, and the first
disagreements.

The builder reads only the ``shadow`` ``CheckResult``: its metrics (``agreement``,
``candidate_failed``, ``<metric>.diff``, ``latency.<quantile>.<side>``) and its tables
``counts``, ``comparison`` and ``disagreements``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assay.report._schema import CheckResult, Report

__all__ = ["build_shadow"]


def _latency_rows(r: CheckResult) -> list[dict[str, Any]]:
    rows = []
    for q in sorted({k.split(".")[1] for k in r.metrics if k.startswith("latency.")}):
        sides = {s: r.metrics.get(f"latency.{q}.{s}") for s in ("production", "candidate", "diff")}
        if all(v is not None for v in sides.values()):
            rows.append({"quantile": q.replace("_ms", ""), **sides})
    return rows


def _disagreements(table: Any) -> list[dict[str, Any]]:
    if not isinstance(table, Mapping) or not table.get("id"):
        return []
    keys = ("id", "production", "candidate", "label")
    return [dict(zip(keys, row)) for row in zip(*(table.get(k, []) for k in keys))]


def build_shadow(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Context of ``section_shadow.html.j2``."""
    comparison = r.tables.get("comparison")
    metrics = comparison.get("metrics", []) if isinstance(comparison, Mapping) else []
    return {
        "agreement": r.metrics.get("agreement"),
        "failed": r.metrics.get("candidate_failed"),
        "counts": r.tables.get("counts") or {},
        "comparison": comparison if isinstance(comparison, Mapping) else None,
        "diffs": [
            {
                "metric": m["metric"],
                "candidate": m.get("candidate"),
                "production": m.get("baseline"),
                "status": m.get("status"),
                "est": r.metrics.get(f"{m['metric']}.diff"),
            }
            for m in metrics
            if f"{m['metric']}.diff" in r.metrics
        ],
        "latency": _latency_rows(r),
        "disagreements": _disagreements(r.tables.get("disagreements")),
    }
