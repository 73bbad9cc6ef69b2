"""The fairness section of the HTML report: group tables, disparities, counterfactual swaps.

Built only from the ``tables`` and ``metrics`` of a fairness ``CheckResult``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

import plotly.graph_objects as go

from assay.metrics import example_metric, metrics_for
from assay.report import _plots
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["build_fairness", "four_fifths_badge"]

#: Per-group metrics shown as table columns, in order, with compact display names: the
#: catalogue's ``per_group`` metrics.
GROUP_COLUMNS = {
    m.name: m.compact
    for task in ("classification", "regression")
    for m in metrics_for(task)
    if m.per_group
}
#: Across-group disparities shown per feature, with display names.
DISPARITY_ROWS = {
    "demographic_parity_difference": "Demographic parity difference (selection rate max − min)",
    "demographic_parity_ratio": "Demographic parity ratio (selection rate min / max)",
    "equalized_odds_difference": "Equalized odds difference (max of TPR, FPR differences)",
    "equalized_odds_ratio": "Equalized odds ratio (min of TPR, FPR ratios)",
    "equal_opportunity_difference": "Equal opportunity difference (TPR)",
    "false_positive_rate_difference": "False positive rate difference",
    "false_negative_rate_difference": "False negative rate difference",
    "predictive_parity_difference": "Predictive parity difference (precision)",
    "accuracy_difference": "Accuracy difference",
    "accuracy_ratio": "Accuracy ratio",
    "ece_max": "Worst ECE in a group",
    "mae_difference": "MAE difference",
    "mae_ratio": "MAE ratio",
    "mean_residual_difference": "Mean residual difference",
    "rmse_difference": "RMSE difference",
}
#: The per-group metric drawn as a forest plot per feature, the first present: the selection rate
#: (what demographic parity compares), else the metric a group is tested on against the rest.
FOREST_METRICS = ("selection_rate", example_metric("classification"), example_metric("regression"))
MAX_FOREST_GROUPS = 40
#: The threshold of the four-fifths rule on the selection-rate ratio.
FOUR_FIFTHS = 0.8
#: The per-group metric behind each named ratio.
DISPARITY_METRIC = {
    "demographic_parity_ratio": "selection_rate",
    "accuracy_ratio": "accuracy",
    "mae_ratio": "mae",
}


class _Figures(Protocol):
    def add(self, fig: go.Figure, title: str) -> dict[str, str]: ...


def _est(d: Any) -> Estimate | None:
    return Estimate.from_dict(dict(d)) if isinstance(d, Mapping) else None


def four_fifths_badge(ratio: Estimate | None, *, degenerate: str | None = None) -> str | None:
    """The four-fifths rule read from the selection-rate ratio's interval: ``met`` when the whole
    interval is at or above 0.8, ``not met`` when it is wholly below, ``inconclusive`` when it
    straddles 0.8, ``undefined`` for a ratio of a group with no favourable predictions anywhere
    (0/0); ``None`` without a ratio."""
    if ratio is None or not ratio.defined:
        return None
    if degenerate is not None:
        return "undefined"
    low = ratio.lower if math.isfinite(ratio.lower) else ratio.value
    high = ratio.upper if math.isfinite(ratio.upper) else ratio.value
    if low >= FOUR_FIFTHS:
        return "met"
    if high < FOUR_FIFTHS:
        return "not met"
    return "inconclusive"


def _degenerate_ratio(
    name: str, ratio: Estimate | None, groups: list[Mapping[str, Any]]
) -> str | None:
    """Why a ratio of exactly 0 [0, 0] is no finding, or None: the groups whose metric is 0 with
    a count of 0 behind it (no favourable predictions, no positives), so the ratio is 0/0-like
    and says nothing about a disparity."""
    if ratio is None or not name.endswith("_ratio") or not ratio.defined:
        return None
    if not (ratio.value == 0 and ratio.upper == 0):
        return None
    metric = DISPARITY_METRIC.get(name, name.removesuffix("_ratio"))
    zero = []
    for g in groups:
        e = _est((g.get("metrics") or {}).get(metric))
        if e is not None and e.defined and e.value == 0 and e.upper == 0:
            zero.append(str(g.get("name")))
    if not zero:
        return None
    return (
        f"{metric} is 0 in every resample for {', '.join(zero)} (no favourable outcome to count): "
        "the ratio is 0 by construction, not evidence of a disparity"
    )


def build_fairness(r: CheckResult, figs: _Figures, report: Report) -> dict[str, Any]:
    """Context of ``section_fairness.html.j2`` for one fairness result."""
    t = r.tables
    features = []
    plots: list[dict[str, str]] = []
    for f in t.get("features") or []:
        if not isinstance(f, Mapping):
            continue
        groups = [g for g in f.get("groups") or [] if isinstance(g, Mapping)]
        left_out = [x for x in f.get("left_out") or [] if isinstance(x, Mapping)]
        undefined = {str(x.get("group")): list(x.get("undefined") or []) for x in left_out}
        present = [m for m in GROUP_COLUMNS if any(m in (g.get("metrics") or {}) for g in groups)]
        rows = []
        for g in groups:
            ms = g.get("metrics") or {}
            padj = g.get("p_adjusted") or {}
            rows.append(
                {
                    "name": str(g.get("name")),
                    "n": g.get("n"),
                    "too_small": bool(g.get("too_small")),
                    "flagged": list(g.get("flagged") or []),
                    "undefined": undefined.get(str(g.get("name")), []),
                    "cells": [_est(ms.get(m)) for m in present],
                    "p": min(
                        (v for v in padj.values() if isinstance(v, (int, float))), default=None
                    ),
                }
            )
        summaries = f.get("summaries") or {}
        disparities = [
            {
                "name": k,
                "pretty": label,
                "est": _est(summaries[k]),
                "degenerate": _degenerate_ratio(k, _est(summaries[k]), groups),
            }
            for k, label in DISPARITY_ROWS.items()
            if k in summaries
        ]
        ratio = _est(summaries.get("demographic_parity_ratio"))
        name = str(f.get("name"))
        for metric in FOREST_METRICS:
            if metric not in present or len(groups) > MAX_FOREST_GROUPS:
                continue
            points = []
            for g in groups:
                e = _est((g.get("metrics") or {}).get(metric))
                if e is None:
                    continue
                points.append(
                    {
                        "name": f"{g.get('name')} (n={g.get('n')})",
                        "value": e.value,
                        "lower": e.lower,
                        "upper": e.upper,
                        "n": g.get("n"),
                        "flagged": bool(g.get("flagged")),
                        "too_small": bool(g.get("too_small")),
                    }
                )
            if points:
                plots.append(
                    figs.add(
                        _plots.forest_figure(points, metric=f"{metric} ({name})"),
                        f"{metric} by {name}",
                    )
                )
                break  # one forest plot per feature keeps the report short
        features.append(
            {
                "name": name,
                "intersection": bool(f.get("intersection")),
                "n_missing": f.get("n_missing") or 0,
                "columns": [GROUP_COLUMNS[m] for m in present],
                "rows": rows,
                "disparities": disparities,
                "left_out": left_out,
                "four_fifths": four_fifths_badge(
                    ratio, degenerate=_degenerate_ratio("demographic_parity_ratio", ratio, groups)
                ),
            }
        )
    cf = t.get("counterfactual")
    swaps = []
    cf_examples: list[dict[str, Any]] = []
    skipped = None
    if isinstance(cf, Mapping):
        skipped = cf.get("skipped")
        for name, row in (cf.get("swaps") or {}).items():
            if not isinstance(row, Mapping):
                continue
            swaps.append(
                {
                    "name": str(name),
                    "n_inputs": row.get("n_inputs"),
                    "n_applicable": row.get("n_applicable"),
                    "n_pairs": row.get("n_pairs"),
                    "n_errors": row.get("n_errors"),
                    "n_flipped": row.get("n_flipped"),
                    "flip_rate": _est(row.get("flip_rate")),
                    "mean_score_change": _est(row.get("mean_score_change")),
                }
            )
            cf_examples += [dict(e) for e in row.get("examples") or [] if isinstance(e, Mapping)]
    return {
        "task": t.get("task"),
        "positive_label": t.get("positive_label"),
        "min_n": t.get("min_n"),
        "notes": list(t.get("notes") or []),
        "features": features,
        "plots": plots,
        "swaps": swaps,
        "cf_score": cf.get("score") if isinstance(cf, Mapping) else None,
        "cf_skipped": skipped,
        "cf_examples": cf_examples[:20],
    }
