"""The uncertainty check's operating points: one threshold on the positive class's probability
(a binary classifier), or one per class, one-vs-rest (``per_class: true``), each chosen on the
calibration rows and measured on the test rows by :func:`assay.uncertainty.operating_point`.

Metric paths: ``operating_point.<metric>`` (binary) or ``operating_point.<class>.<metric>``
(per class; a ``.`` in a class name becomes ``_``), for ``sensitivity``, ``specificity``,
``precision``, ``npv``, ``positive_rate`` (``cost`` with ``costs``) and ``threshold``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay._types import canonical_label
from assay.checks._uncertainty_inputs import OperatingPointConfig
from assay.errors import ConfigError, MetricError
from assay.stats import Estimate
from assay.uncertainty import OperatingPoint, operating_point

__all__ = [
    "OperatingPoints",
    "class_segment",
    "operating_point_patterns",
    "positive_index",
    "score_operating_points",
]

_METRICS = ("sensitivity", "specificity", "precision", "npv", "positive_rate", "cost")


def class_segment(label: str) -> str:
    """A class name as one segment of a metric path."""
    return str(label).replace(".", "_")


def operating_point_patterns(config: OperatingPointConfig) -> list[str]:
    """The metric paths the operating points produce (``*`` for any class)."""
    prefix = "operating_point.*." if config.per_class else "operating_point."
    return [f"{prefix}{m}" for m in (*_METRICS, "threshold")]


def positive_index(config: OperatingPointConfig | None, labels: list[str]) -> int:
    """The column of the positive class of a binary classifier (default: the second label)."""
    want = config.positive_label if config is not None else None
    if want is None:
        return 1
    name = canonical_label(want)
    if name not in labels:
        raise ConfigError(
            f"checks.uncertainty.operating_points.positive_label: {want!r} is not a label; "
            f"labels: {', '.join(labels)}"
        )
    return labels.index(name)


@dataclass
class OperatingPoints:
    """What the operating points add to the check's result."""

    metrics: dict[str, Estimate] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def _point(
    config: OperatingPointConfig,
    cal_score: np.ndarray,
    cal_positive: np.ndarray,
    test_score: np.ndarray,
    test_positive: np.ndarray,
    level: float,
) -> OperatingPoint:
    target, value = config.target
    costs = value if target == "costs" else {"fn": 1.0, "fp": 1.0}
    return operating_point(
        cal_score,
        cal_positive,
        test_score,
        test_positive,
        target=target,
        value=None if target == "costs" else value,
        cost_fn=costs["fn"],
        cost_fp=costs["fp"],
        level=level,
    )


def _row(op: OperatingPoint) -> dict[str, Any]:
    c = op.test_counts
    return {
        "threshold": op.threshold if math.isfinite(op.threshold) else None,
        "calibration": op.calibration,
        "test": {k: e.to_dict() for k, e in op.test.items()},
        "counts": {"tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn},
    }


def score_operating_points(
    config: OperatingPointConfig,
    labels: list[str],
    cproba: np.ndarray,
    ccodes: np.ndarray,
    tproba: np.ndarray,
    tcodes: np.ndarray,
    *,
    level: float,
) -> OperatingPoints:
    """The operating point(s) ``config`` asks for, fitted on the calibration rows (``cproba``,
    ``ccodes``: probabilities in ``labels`` order and label indices) and measured on the test
    rows.

    Per class, a class whose calibration rows have no positive (or no negative) row gets no
    threshold: its metrics are undefined (NaN, so a gate on them fails) and a flag says why.

    Raises:
        ConfigError: a multiclass model without ``per_class``; a binary point that cannot be
            fitted (no positive or no negative calibration row).
    """
    out = OperatingPoints()
    target, value = config.target
    if not config.per_class:
        if len(labels) != 2:
            raise ConfigError(
                f"checks.uncertainty.operating_points: one operating point is for a binary "
                f"classifier; this one has {len(labels)} labels ({', '.join(labels)}): add "
                "per_class: true for one per class, one-vs-rest (paths "
                "operating_point.<class>.sensitivity, ...)"
            )
        pos = positive_index(config, labels)
        try:
            op = _point(config, cproba[:, pos], ccodes == pos, tproba[:, pos], tcodes == pos, level)
        except MetricError as e:
            raise ConfigError(f"checks.uncertainty.operating_points: {e}") from None
        out.metrics.update({f"operating_point.{k}": est for k, est in op.test.items()})
        out.metrics["operating_point.threshold"] = Estimate.point(op.threshold, n=len(ccodes))
        out.tables["operating_point"] = {
            "target": target,
            "value": value,
            "positive_label": labels[pos],
            **_row(op),
        }
        return out
    rows = []
    for k, label in enumerate(labels):
        key = f"operating_point.{class_segment(label)}"
        try:
            op = _point(config, cproba[:, k], ccodes == k, tproba[:, k], tcodes == k, level)
        except MetricError as e:
            nan = Estimate(math.nan, math.nan, math.nan, level, "wilson", 0)
            metrics = ("sensitivity", "specificity", "precision", "npv", "positive_rate")
            out.metrics.update({f"{key}.{m}": nan for m in metrics})
            out.metrics[f"{key}.threshold"] = Estimate.point(math.nan, n=len(ccodes))
            out.flags.append(
                f"no operating point for class {label}: {e} among the calibration rows "
                f"(class {label} against the rest); its {key}.* metrics are undefined"
            )
            rows.append({"label": label, "key": key, "threshold": None, "error": str(e)})
            continue
        out.metrics.update({f"{key}.{m}": est for m, est in op.test.items()})
        out.metrics[f"{key}.threshold"] = Estimate.point(op.threshold, n=len(ccodes))
        rows.append({"label": label, "key": key, **_row(op)})
    out.tables["operating_point_per_class"] = {
        "target": target,
        "value": value,
        "classes": rows,
    }
    return out
