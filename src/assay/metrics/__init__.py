"""Metrics: pure functions of arrays, every value with a confidence interval, and the catalogue
that says what each metric is (``metric_info``)."""

from assay.metrics._catalog import (
    CATALOG,
    SUMMARY_SOURCES,
    MetricInfo,
    direction,
    display_name,
    example_metric,
    find_metric,
    headline_metrics,
    is_lower_better,
    metric_info,
    metrics_for,
)
from assay.metrics._classification import ClassificationSummary, classification_summary
from assay.metrics._confusion import ConfusionCounts
from assay.metrics._multilabel import multilabel_summary
from assay.metrics._regression import RegressionSummary, regression_summary
from assay.metrics._sketch import ClassificationSketch
from assay.metrics._text import TextSummary, corpus_text_metric, text_summary

__all__ = [
    "CATALOG",
    "SUMMARY_SOURCES",
    "ClassificationSketch",
    "ClassificationSummary",
    "ConfusionCounts",
    "MetricInfo",
    "RegressionSummary",
    "TextSummary",
    "classification_summary",
    "corpus_text_metric",
    "direction",
    "display_name",
    "example_metric",
    "find_metric",
    "headline_metrics",
    "is_lower_better",
    "metric_info",
    "metrics_for",
    "multilabel_summary",
    "regression_summary",
    "text_summary",
]
