"""The Report schema, gates and sinks (console, HTML)."""

from assay.report._console import print_summary
from assay.report._gates import Gate, evaluate_gates, parse_gate, validate_gates
from assay.report._html import render_html, write_html
from assay.report._schema import SCHEMA_VERSION, CheckResult, ErrorSummary, GateOutcome, Report

__all__ = [
    "SCHEMA_VERSION",
    "CheckResult",
    "ErrorSummary",
    "Gate",
    "GateOutcome",
    "Report",
    "evaluate_gates",
    "parse_gate",
    "print_summary",
    "render_html",
    "validate_gates",
    "write_html",
]
