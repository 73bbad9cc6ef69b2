"""The uncertainty section of the HTML report: selective prediction (the risk–coverage curve and
the risk at each requested coverage; for regression, abstention by the predicted spread and the
mean absolute or squared error kept), the conformal sets or intervals (coverage against the nominal, the set
size histogram, coverage per group), calibration before and after temperature scaling, and the
operating point (or one per class, one-vs-rest). Figures are drawn only for what the check computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from assay.metrics import display_name
from assay.report import _plots
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["build_uncertainty"]

_CAL = ("ece", "ece_equal_mass", "classwise_ece", "brier", "log_loss")
_OP = ("sensitivity", "specificity", "precision", "npv", "positive_rate", "cost")


def _est(x: Any) -> Estimate | None:
    if isinstance(x, Estimate):
        return x
    return Estimate.from_dict(dict(x)) if isinstance(x, Mapping) else None


def build_uncertainty(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Context of ``section_uncertainty.html.j2``."""
    t, m = r.tables, r.metrics
    regression = t.get("task") == "regression"
    risk_label = (
        "mean " + str(t.get("risk", "absolute_error")).replace("_", " ")
        if regression
        else "error rate"
    )
    plots = []
    selective = t.get("selective") or {}
    at_cov = []
    for row in selective.get("at_coverage") or []:
        key = f"selective.coverage_{row['coverage']:g}"
        at_cov.append(
            {
                "coverage": row["coverage"],
                "n_kept": row.get("n_kept"),
                "risk": m.get(f"{key}.risk"),
                "accuracy": m.get(f"{key}.accuracy"),
            }
        )
    if selective.get("curve"):
        marks = [
            {
                "coverage": a["coverage"],
                "risk": a["risk"].value if a["risk"] else None,
                "name": f"coverage {a['coverage']:g}",
            }
            for a in at_cov
        ]
        plots.append(
            figs.add(
                _plots.risk_coverage_figure(selective["curve"], marks=marks, risk_label=risk_label),
                "Risk–coverage curve",
            )
        )
    target = []
    for kind, title in (
        ("at_risk", "threshold from the calibration rows (no guarantee)"),
        ("guaranteed", "SGR threshold (guaranteed on the calibration rows)"),
    ):
        if f"selective.{kind}.coverage" in m:
            target.append(
                {
                    "title": title,
                    "coverage": m[f"selective.{kind}.coverage"],
                    "referral_rate": m[f"selective.{kind}.referral_rate"],
                    "risk": m[f"selective.{kind}.risk"],
                    "path": f"uncertainty.selective.{kind}",
                }
            )
    conformal = t.get("conformal")
    conf_ctx = None
    if conformal:
        groups = [
            {
                "group": g["group"],
                "n": g["n"],
                "coverage": _est(g["coverage"]),
                "size": _est(g["size"]),
            }
            for g in conformal.get("groups") or []
        ]
        conf_ctx = {
            "method": conformal.get("method"),
            "alpha": conformal.get("alpha"),
            "nominal": conformal.get("nominal"),
            "n_calibration": conformal.get("n_calibration"),
            "coverage": m.get("conformal.coverage"),
            "size": m.get("conformal.size"),
            "groups": groups,
            "size_label": "mean set size" if t.get("task") == "classification" else "mean width",
            "quantile_levels": conformal.get("quantile_levels"),
        }
        if conformal.get("size_histogram"):
            plots.append(
                figs.add(
                    _plots.set_size_figure(
                        conformal["size_histogram"], title="Prediction set sizes"
                    ),
                    "Set sizes",
                )
            )
        if groups:
            rows = [
                {
                    "name": g["group"],
                    "value": g["coverage"].value if g["coverage"] else None,
                    "lower": g["coverage"].lower if g["coverage"] else None,
                    "upper": g["coverage"].upper if g["coverage"] else None,
                    "n": g["n"],
                    "flagged": bool(g["coverage"] and g["coverage"].upper < conformal["nominal"]),
                }
                for g in groups
            ]
            plots.append(
                figs.add(
                    _plots.forest_figure(
                        rows,
                        metric="conformal coverage",
                        overall=conformal.get("nominal"),
                        reference="nominal",
                        title="Conformal coverage by group",
                    ),
                    "Conformal coverage by group",
                )
            )
    calibration = t.get("calibration")
    cal_rows = []
    if calibration:
        for key in _CAL:
            cal_rows.append(
                {
                    "name": display_name(key) or key,
                    "before": m.get(f"calibration.{key}"),
                    "after": m.get(f"calibration.temperature_scaled.{key}"),
                }
            )
        plots.append(
            figs.add(
                _plots.reliability_pair_figure(
                    calibration.get("reliability") or [],
                    calibration.get("reliability_scaled") or [],
                    temperature=float(calibration.get("temperature") or 1.0),
                ),
                "Reliability before and after temperature scaling",
            )
        )
    op = t.get("operating_point")
    op_ctx = None
    if op:
        op_ctx = {
            "target": op["target"],
            "value": op["value"],
            "positive": op["positive_label"],
            "threshold": op.get("threshold"),
            "counts": op.get("counts") or {},
            "rows": [
                {
                    "name": display_name(k) or k,
                    "test": m.get(f"operating_point.{k}"),
                    "calibration": (op.get("calibration") or {}).get(k),
                }
                for k in _OP
                if f"operating_point.{k}" in m
            ],
        }
    per_class = t.get("operating_point_per_class")
    per_class_ctx = None
    if per_class:
        rows = []
        for row in per_class.get("classes") or []:
            key = row["key"]
            counts = row.get("counts") or {}
            rows.append(
                {
                    "label": row["label"],
                    "key": f"uncertainty.{key}",
                    # a threshold stored as null is +inf (nothing predicted positive)
                    "threshold": math.inf
                    if row.get("threshold") is None and not row.get("error")
                    else row.get("threshold"),
                    "n_positive": (counts["tp"] + counts["fn"]) if counts else None,
                    "calibration": row.get("calibration") or {},
                    **{k: m.get(f"{key}.{k}") for k in _OP},
                    "error": row.get("error"),
                }
            )
        per_class_ctx = {
            "target": per_class["target"],
            "value": per_class["value"],
            "shows_cost": any(r["cost"] is not None for r in rows),
            "rows": rows,
        }
    split = t.get("split") or {}
    return {
        "split": split,
        "regression": regression,
        # what a kept row's loss is: 0/1 for classifiers, the chosen error for regression
        "risk_label": risk_label,
        "confidence": selective.get("confidence"),
        "aurc": m.get("selective.aurc"),
        "excess_aurc": m.get("selective.excess_aurc"),
        "at_coverage": at_cov,
        "target": target,
        "target_risk": (selective.get("at_risk") or {}).get("target_risk"),
        "guarantee": (selective.get("guaranteed") or {}).get("guarantee"),
        "conformal": conf_ctx,
        "calibration": cal_rows,
        "temperature": (calibration or {}).get("temperature"),
        "operating_point": op_ctx,
        "operating_point_per_class": per_class_ctx,
        "skipped": m.get("skipped.no_probabilities"),
        "skipped_spread": m.get("skipped.no_spread"),
        "plots": plots,
    }
