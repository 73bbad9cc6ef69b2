"""Decisions under uncertainty: selective prediction, conformal sets, calibration, operating points.

Pure functions over arrays with typed frozen results; the ``uncertainty`` check
(:mod:`assay.checks._uncertainty`) feeds them a model's answers.
"""

from assay.uncertainty._calibration import (
    BrierDecomposition,
    CalibrationReport,
    apply_temperature,
    brier_decomposition,
    calibration_estimates,
    calibration_report,
    fit_temperature,
    reliability_bins,
)
from assay.uncertainty._conformal import (
    ConformalResult,
    aps_scores,
    aps_sets,
    conformal_classification,
    conformal_quantile,
    conformal_regression,
    coverage_flag,
    lac_scores,
    lac_sets,
    min_calibration_size,
    raps_scores,
    raps_sets,
)
from assay.uncertainty._operating import OperatingPoint, choose_threshold, operating_point
from assay.uncertainty._paired import PairedOperatingPoint, paired_operating_points
from assay.uncertainty._selective import (
    GuaranteedRisk,
    RiskCoverage,
    SelectiveAt,
    SelectiveRisk,
    aurc_estimates,
    confidence_scores,
    empirical_risk_threshold,
    guaranteed_risk_threshold,
    risk_coverage,
    selective_at,
    selective_at_threshold,
    selective_risk_at,
    selective_risk_at_threshold,
)

__all__ = [
    "BrierDecomposition",
    "CalibrationReport",
    "ConformalResult",
    "GuaranteedRisk",
    "OperatingPoint",
    "PairedOperatingPoint",
    "RiskCoverage",
    "SelectiveAt",
    "SelectiveRisk",
    "apply_temperature",
    "aps_scores",
    "aps_sets",
    "aurc_estimates",
    "brier_decomposition",
    "calibration_estimates",
    "calibration_report",
    "choose_threshold",
    "confidence_scores",
    "conformal_classification",
    "conformal_quantile",
    "conformal_regression",
    "coverage_flag",
    "empirical_risk_threshold",
    "fit_temperature",
    "guaranteed_risk_threshold",
    "lac_scores",
    "lac_sets",
    "min_calibration_size",
    "operating_point",
    "paired_operating_points",
    "raps_scores",
    "raps_sets",
    "reliability_bins",
    "risk_coverage",
    "selective_at",
    "selective_at_threshold",
    "selective_risk_at",
    "selective_risk_at_threshold",
]
