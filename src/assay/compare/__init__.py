"""Paired comparison of a candidate with the model in production, and the go / no-go decision.

A pillar library over arrays: ``compare_paired`` takes both models' answers on the same examples
(``PairedPredictions``) and returns a ``Comparison``. The ``compare`` check and
``assay.compare_reports`` (two saved Reports) are built on it::

    import assay
    c = assay.compare_reports("out/report.json", "prod/report.json")
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
from assay.compare._shadow import ShadowComparison, shadow_compare

__all__ = [
    "CompareOptions",
    "Comparison",
    "MetricComparison",
    "PairedPredictions",
    "ShadowComparison",
    "Verdict",
    "align_tables",
    "compare_paired",
    "shadow_compare",
]
