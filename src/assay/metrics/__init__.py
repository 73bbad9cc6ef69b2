"""Metrics: pure functions of arrays, every value with a confidence interval."""

from assay.metrics._classification import ClassificationSummary, classification_summary

__all__ = ["ClassificationSummary", "classification_summary"]
