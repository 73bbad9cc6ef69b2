"""Latency under load: percentiles with intervals, SLOs, goodput, capacity (pure functions over
the samples a load generator recorded; the generator itself is ``assay._runner._load``)."""

from assay.load._capacity import Capacity, capacity
from assay.load._plan import LoadPlan, Mode
from assay.load._quantiles import (
    QUANTILE_METHOD,
    quantile_estimate,
    quantile_estimates,
    samples_needed,
)
from assay.load._samples import Outcome, Sample
from assay.load._server_metrics import (
    SERVER_QUANTILE_METHOD,
    MetricsScrape,
    histogram_quantile,
    parse_metrics,
    server_view,
)
from assay.load._slo import SLO, SLO_GRAMMAR, SLOTerm, parse_slo
from assay.load._summary import PERCENTILES, StepSummary, histogram_of, summarize_step

__all__ = [
    "PERCENTILES",
    "QUANTILE_METHOD",
    "SERVER_QUANTILE_METHOD",
    "SLO",
    "SLO_GRAMMAR",
    "Capacity",
    "LoadPlan",
    "MetricsScrape",
    "Mode",
    "Outcome",
    "SLOTerm",
    "Sample",
    "StepSummary",
    "capacity",
    "histogram_of",
    "histogram_quantile",
    "parse_metrics",
    "parse_slo",
    "quantile_estimate",
    "quantile_estimates",
    "samples_needed",
    "server_view",
    "summarize_step",
]
