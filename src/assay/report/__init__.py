"""The Report schema, gates and sinks."""

from assay.report._schema import SCHEMA_VERSION, CheckResult, ErrorSummary, GateOutcome, Report

__all__ = ["SCHEMA_VERSION", "CheckResult", "ErrorSummary", "GateOutcome", "Report"]
