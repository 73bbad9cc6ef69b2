"""Metrics: pure functions of arrays, every value with a confidence interval."""

from assay.metrics._classification import ClassificationSummary, classification_summary
from assay.metrics._confusion import ConfusionCounts
from assay.metrics._multilabel import multilabel_summary
from assay.metrics._regression import RegressionSummary, regression_summary
from assay.metrics._text import TextSummary, corpus_text_metric, text_summary

__all__ = [
    "ClassificationSummary",
    "ConfusionCounts",
    "RegressionSummary",
    "TextSummary",
    "classification_summary",
    "corpus_text_metric",
    "multilabel_summary",
    "regression_summary",
    "text_summary",
]
