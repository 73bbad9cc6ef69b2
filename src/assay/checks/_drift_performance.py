"""Performance without labels inside the drift check: CBPE on the current data, per window.

When the model gives probabilities for a binary task, the drift check hands the model's answers on
the reference (whose labels are known) and on the current data to
:func:`assay.drift.estimate_performance`, over the same windows as the drift tests, plus one
window of every current row. Each window gets estimated accuracy, precision, recall, F1 and ROC
AUC with intervals; where the current rows have labels, the realised metrics sit beside them and
a window whose realised value falls outside the estimate's interval is an alert.

Metric paths (gates): ``estimated.<metric>`` and ``realised.<metric>`` (all current rows),
``windows.worst_estimated.<metric>`` and ``windows.worst_realised.<metric>`` (the window with the
lowest value, with windows) and ``performance.n_alerts`` (windows where realised and estimated
disagree; with no windows, the whole data is the one window). The result is
``tables["performance"]`` (:meth:`PerformanceEstimate.to_dict` of the windows, plus ``overall``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from assay.drift import (
    PerformanceEstimate,
    Window,
    WindowPerformance,
    Windows,
    estimate_performance,
)
from assay.drift._cbpe import ESTIMATED_METRICS
from assay.errors import ConfigError, DataError
from assay.stats._estimate import Estimate

__all__ = [
    "ESTIMATION_ERRORS",
    "PERFORMANCE_GATE_PATTERNS",
    "PerformanceInputs",
    "estimate_window_performance",
    "not_computed",
    "performance_flags",
    "performance_inputs",
    "performance_metrics",
    "performance_table",
]

#: The metric paths the drift check adds when it estimates performance.
PERFORMANCE_GATE_PATTERNS: tuple[str, ...] = (
    *(f"estimated.{m}" for m in ESTIMATED_METRICS),
    *(f"realised.{m}" for m in ESTIMATED_METRICS),
    *(f"windows.worst_estimated.{m}" for m in ESTIMATED_METRICS),
    *(f"windows.worst_realised.{m}" for m in ESTIMATED_METRICS),
    "performance.n_alerts",
)

#: Names of the columns of the tables handed to ``estimate_performance``.
_Y, _P, _PRED = "label", "probability", "prediction"
_ALL_ROWS = "all current rows"
#: What ``estimate_performance`` raises on data it cannot estimate on (reported, not fatal).
ESTIMATION_ERRORS = (DataError, ConfigError)


@dataclasses.dataclass(frozen=True)
class PerformanceInputs:
    """The model's answers on both tables, ready for CBPE.

    Attributes:
        reference: ``label``, ``probability`` (of ``positive_label``) and ``prediction`` per
            reference row that was answered.
        current: the same per current row, in the current table's order (NaN where a row was not
            answered; its label NaN where unknown).
        positive_label: the class the probability is of.
    """

    reference: pd.DataFrame
    current: pd.DataFrame
    positive_label: str


def _all_rows(plan: Windows | None, n: int) -> Windows:
    """``plan``'s windows followed by one window of every row (or that one window alone)."""
    whole = Window(
        index=len(plan) if plan else 0, label=_ALL_ROWS, start=0, end=n, rows=np.arange(n)
    )
    if plan is None:
        return Windows(windows=(whole,), by="count", rule="all rows in one window", n_rows=n)
    return dataclasses.replace(plan, windows=(*plan.windows, whole))


def estimate_window_performance(
    inputs: PerformanceInputs,
    plan: Windows | None,
    *,
    level: float,
    seed: np.random.Generator,
) -> tuple[PerformanceEstimate, WindowPerformance]:
    """CBPE per window of ``plan`` (none: no windows) and on all current rows.

    Returns:
        The per-window estimate (no windows without ``plan``) and the all-rows window.

    Raises:
        DataError, ConfigError: from :func:`estimate_performance` (e.g. a reference with one
            class), for the caller to report.
    """
    ref = inputs.reference
    est = estimate_performance(
        ref,
        inputs.current,
        y_true=_Y,
        y_pred_proba=_P,
        y_pred=_PRED,
        window=_all_rows(plan, len(inputs.current)),
        positive_label=inputs.positive_label,
        level=level,
        seed=seed,
    )
    windows, overall = est.windows[:-1], est.windows[-1]
    rule = plan.rule if plan is not None else "no windows"
    return dataclasses.replace(est, windows=windows, window_rule=rule), overall


def performance_inputs(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    ref_labels: pd.Series,
    cur_labels: pd.Series,
    probability: str,
    positive_label: str,
) -> tuple[PerformanceInputs, int]:
    """The CBPE tables, and how many reference rows were left out for want of a label or score."""

    def table(frame: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
        return pd.DataFrame(
            {
                _Y: labels.to_numpy(dtype=object),
                _P: pd.to_numeric(frame[probability]).to_numpy(dtype=float),
                _PRED: frame["prediction"].to_numpy(dtype=object),
            }
        )

    ref = table(reference, ref_labels)
    usable = ref[_Y].notna() & np.isfinite(ref[_P]) & ref[_PRED].notna()
    dropped = int((~usable).sum())
    return (
        PerformanceInputs(
            ref[usable].reset_index(drop=True), table(current, cur_labels), positive_label
        ),
        dropped,
    )


def _worst(windows: tuple[WindowPerformance, ...], metric: str, which: str) -> Estimate | None:
    values = [e for w in windows if (e := getattr(w, which).get(metric)) is not None and e.defined]
    return min(values, key=lambda e: e.value) if values else None


def performance_metrics(
    est: PerformanceEstimate, overall: WindowPerformance
) -> dict[str, Estimate]:
    """The gateable paths of the estimate (see the module docstring)."""
    m: dict[str, Estimate] = {}
    for metric in est.metrics:
        for which in ("estimated", "realised"):
            e = getattr(overall, which).get(metric)
            if e is not None:
                m[f"{which}.{metric}"] = e
            if est.windows and (worst := _worst(est.windows, metric, which)) is not None:
                m[f"windows.worst_{which}.{metric}"] = worst
    compared = [w for w in (est.windows or (overall,)) if w.realised]
    if compared:
        alerts = sum(w.alert for w in compared)
        m["performance.n_alerts"] = Estimate.point(float(alerts), n=len(compared))
    return m


def performance_flags(est: PerformanceEstimate, overall: WindowPerformance) -> list[str]:
    """Alerts in words, and the current rows the estimate could not use."""
    flags = []
    for w in est.windows or (overall,):
        if not w.disagree:
            continue
        parts = []
        for metric in w.disagree:
            e, r = w.estimated[metric], w.realised[metric]
            parts.append(
                f"{metric} {r.value:.3f} (estimate {e.value:.3f} [{e.lower:.3f}, {e.upper:.3f}])"
            )
        flags.append(
            f"performance alert, {w.label}: realised outside the estimate's interval for "
            f"{', '.join(parts)}; the estimate's assumptions (no concept drift, calibrated "
            "scores) do not hold there"
        )
    if est.windows and overall.n_unscored:
        flags.append(
            f"performance estimate: {overall.n_unscored} current rows had no usable probability "
            "and are left out of it"
        )
    return flags


def performance_table(est: PerformanceEstimate, overall: WindowPerformance) -> dict[str, Any]:
    """``tables["performance"]``: the per-window estimate and the all-rows window."""
    return {**est.to_dict(), "overall": overall.to_dict()}


def not_computed(reason: str) -> dict[str, str]:
    """Metric path → reason, for every path of :data:`PERFORMANCE_GATE_PATTERNS`."""
    return {p: reason for p in PERFORMANCE_GATE_PATTERNS}
