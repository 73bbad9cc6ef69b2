"""A window's summary: the small dict ``/v1/windows`` lists and the dashboard draws.

Built from the window's Report alone (and what the store knows: id, bounds, counts), in the
format of docs/monitor-windows.md. A key whose check did not run is absent, never invented.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from assay.drift._cbpe import ESTIMATED_METRICS
from assay.monitor._scoring import MONITOR_RESULT
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["TOP_COLUMNS", "gate_states", "window_passed", "window_summary"]

TOP_COLUMNS = 5
_META = ("id", "start", "end", "n_events", "n_labelled", "model_versions")
#: Realised metrics shown beside CBPE's estimates: the performance check's names for them.
_REALISED = {"accuracy": "accuracy", "roc_auc": "roc_auc", "f1": "f1", "precision": "precision",
             "recall": "recall"}  # fmt: skip


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _interval(e: Estimate, *, with_n: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"value": _num(e.value), "lower": _num(e.lower), "upper": _num(e.upper)}
    if with_n:
        out["n"] = e.n
    return out


def _result(report: Report, check: str) -> CheckResult | None:
    return next((r for r in report.results if r.check == check), None)


def _drift(result: CheckResult) -> dict[str, Any]:
    table = result.tables.get("drift") or {}
    columns = [
        c for c in table.get("columns", []) if c.get("tested") and c.get("role") == "feature"
    ]

    def badness(c: Mapping[str, Any]) -> tuple[float, float, float]:
        p = c.get("p_adjusted", c.get("p_value"))
        p = 1.0 if p is None else float(p)
        return (-float(bool(c.get("drifted"))), p, -float(c.get("statistic") or 0.0))

    top = [
        {
            "column": c["column"],
            "statistic": c.get("method", ""),
            "value": _num(c.get("statistic")),
            "p_value": _num(c.get("p_value")),
            "drifted": bool(c.get("drifted")),
        }
        for c in sorted(columns, key=badness)[:TOP_COLUMNS]
    ]
    out: dict[str, Any] = {}
    if "share_drifted" in result.metrics:
        out["share_drifted"] = _num(result.metrics["share_drifted"].value)
    if "n_drifted" in result.metrics:
        out["n_drifted"] = int(result.metrics["n_drifted"].value)
    out["top_columns"] = top
    return out


def _groups(report: Report) -> dict[str, Any]:
    """feature → group → metric → interval: the selection rate of every event (monitor
    result) and, once labels arrive, the fairness check's accuracy per group."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    monitor = _result(report, MONITOR_RESULT)
    if monitor is not None:
        for path, e in monitor.metrics.items():
            parts = path.split(".")
            if parts[0] == "groups" and len(parts) == 4:
                out.setdefault(parts[1], {}).setdefault(parts[2], {})[parts[3]] = _interval(e)
    fairness = _result(report, "fairness")
    if fairness is not None:
        for path, e in fairness.metrics.items():
            parts = path.split(".")
            if len(parts) == 3 and parts[2] == "accuracy" and parts[0] in out:
                out[parts[0]].setdefault(parts[1], {})["accuracy"] = _interval(e, with_n=True)
    return out


def gate_states(report: Report) -> list[dict[str, Any]]:
    """Every gate of the window: ``{"expression", "passed", "value"}`` for those decided, and
    ``{"expression", "passed": None, "value": None, "pending": reason}`` (or
    ``"not_applicable": reason``) for those that could not be decided."""
    out: list[dict[str, Any]] = [
        {"expression": g.gate, "passed": g.passed, "value": _num(g.observed)} for g in report.gates
    ]
    monitor = _result(report, MONITOR_RESULT)
    for u in monitor.tables.get("pending_gates", []) if monitor else []:
        out.append(
            {"expression": u["gate"], "passed": None, "value": None, u["state"]: u["reason"]}
        )
    return out


def window_passed(report: Report) -> bool | None:
    """Whether the decided gates pass; ``None`` when no gate was decided."""
    return all(g.passed for g in report.gates) if report.gates else None


def window_summary(report: Report, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The window's summary (docs/monitor-windows.md): ``meta`` gives ``id``, ``start``,
    ``end``, ``n_events``, ``n_labelled``, ``model_versions`` and optionally ``alerts``; the
    rest comes from ``report``. Keys whose check did not run are left out."""
    out: dict[str, Any] = {k: meta[k] for k in _META if k in meta}
    for k in ("start", "end"):
        if k in out and not isinstance(out[k], str):
            out[k] = out[k].isoformat().replace("+00:00", "Z")
    out["passed"] = window_passed(report)
    drift = _result(report, "drift")
    if drift is not None:
        out["drift"] = _drift(drift)
        estimated = {
            m: _interval(drift.metrics[f"estimated.{m}"])
            for m in ESTIMATED_METRICS
            if f"estimated.{m}" in drift.metrics
        }
        if estimated:
            out["estimated"] = estimated
    performance = _result(report, "performance")
    if performance is not None:
        realised = {
            name: _interval(performance.metrics[metric], with_n=True)
            for name, metric in _REALISED.items()
            if metric in performance.metrics
        }
        if realised:
            out["realised"] = realised
    groups = _groups(report)
    if groups:
        out["groups"] = groups
    monitor = _result(report, MONITOR_RESULT)
    if monitor is not None and "latency.p50_ms" in monitor.metrics:
        lat = {
            k.removeprefix("latency."): e
            for k, e in monitor.metrics.items()
            if k.startswith("latency.")
        }
        out["latency"] = {"n": lat["p50_ms"].n, **{k: _num(e.value) for k, e in lat.items()}}
    out["gates"] = gate_states(report)
    out["alerts"] = list(meta.get("alerts", []))
    return out
