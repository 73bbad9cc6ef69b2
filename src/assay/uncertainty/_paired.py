"""Two models at the same operating point, on the same rows: each model's threshold is chosen on
the calibration rows to hold the same target (say specificity 0.95), and on the test rows the
sensitivity and specificity of the two are compared pair by pair — Newcombe's paired interval on
the difference and McNemar's mid-p test, over the positives (sensitivity) and the negatives
(specificity) that both models saw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from assay.stats import Estimate, TestResult, mcnemar_test, paired_proportion_difference
from assay.uncertainty._operating import OperatingPoint, Target, operating_point

__all__ = ["PairedOperatingPoint", "paired_operating_points"]

F = NDArray[np.float64]
B = NDArray[np.bool_]


@dataclass(frozen=True)
class PairedOperatingPoint:
    """The candidate's and the baseline's operating points and their paired differences.

    Attributes:
        candidate, baseline: each model's threshold and test metrics.
        differences: ``sensitivity`` and ``specificity``: candidate − baseline (paired interval).
        tests: McNemar's mid-p test of each difference.
    """

    candidate: OperatingPoint
    baseline: OperatingPoint
    differences: dict[str, Estimate]
    tests: dict[str, TestResult]


def _paired(hit_c: B, hit_b: B, level: float) -> tuple[Estimate, TestResult]:
    both = int((hit_c & hit_b).sum())
    only_c = int((hit_c & ~hit_b).sum())
    only_b = int((~hit_c & hit_b).sum())
    neither = int((~hit_c & ~hit_b).sum())
    return (
        paired_proportion_difference(both, only_c, only_b, neither, level=level),
        mcnemar_test(only_c, only_b),
    )


def paired_operating_points(
    cal_candidate: F,
    cal_baseline: F,
    cal_positive: B,
    test_candidate: F,
    test_baseline: F,
    test_positive: B,
    *,
    target: Target,
    value: float | None = None,
    cost_fn: float = 1.0,
    cost_fp: float = 1.0,
    level: float = 0.95,
) -> PairedOperatingPoint:
    """Each model's operating point (see :func:`operating_point`), then the paired differences of
    sensitivity and specificity on the test rows.

    Example:
        >>> y = np.array([True, True, False, False] * 10)
        >>> a = np.where(y, 0.9, 0.2); b = np.where(y, 0.6, 0.4)
        >>> p = paired_operating_points(a, b, y, a, b, y, target="specificity", value=0.9)
        >>> p.differences["sensitivity"].value
        0.0
    """
    op_c, op_b = (
        operating_point(
            cal,
            cal_positive,
            test,
            test_positive,
            target=target,
            value=value,
            cost_fn=cost_fn,
            cost_fp=cost_fp,
            level=level,
        )
        for cal, test in ((cal_candidate, test_candidate), (cal_baseline, test_baseline))
    )
    pos = np.asarray(test_positive, dtype=bool)
    pred_c = np.asarray(test_candidate) >= op_c.threshold
    pred_b = np.asarray(test_baseline) >= op_b.threshold
    sens, sens_test = _paired(pred_c[pos], pred_b[pos], level)
    spec, spec_test = _paired(~pred_c[~pos], ~pred_b[~pos], level)
    return PairedOperatingPoint(
        op_c,
        op_b,
        {"sensitivity": sens, "specificity": spec},
        {"sensitivity": sens_test, "specificity": spec_test},
    )
