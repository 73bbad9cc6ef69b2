"""Paired comparison of a candidate with the model in production, and the go / no-go decision.

from assay.compare import compare_reports
c = compare_reports("out/report.json", "prod/report.json")
c.verdict, c.reasons      # "go" | "no-go" | "inconclusive", and why
"""

from assay.compare._compare import (
    CompareOptions,
    Comparison,
    MetricComparison,
    Verdict,
    compare_paired,
)
from assay.compare._paired import PairedPredictions, align_tables
from assay.compare._reports import compare_reports, to_check_result

__all__ = [
    "CompareOptions",
    "Comparison",
    "MetricComparison",
    "PairedPredictions",
    "Verdict",
    "align_tables",
    "compare_paired",
    "compare_reports",
    "to_check_result",
]
