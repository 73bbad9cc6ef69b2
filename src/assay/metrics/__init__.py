"""Metrics: pure functions of arrays, every value with a confidence interval."""

from assay.metrics._classification import ClassificationSummary, classification_summary
from assay.metrics._multilabel import multilabel_summary
from assay.metrics._regression import RegressionSummary, regression_summary

__all__ = [
    "ClassificationSummary",
    "RegressionSummary",
    "classification_summary",
    "multilabel_summary",
    "regression_summary",
]
