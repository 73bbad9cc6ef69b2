"""The Report schema and its sinks (console, HTML, Markdown, JUnit XML, model card)."""

from assay.report._console import print_summary
from assay.report._html import render_html, write_html
from assay.report._junit import render_junit, write_junit
from assay.report._markdown import render_markdown, write_markdown
from assay.report._model_card import render_model_card, write_model_card
from assay.report._schema import SCHEMA_VERSION, CheckResult, ErrorSummary, GateOutcome, Report

__all__ = [
    "SCHEMA_VERSION",
    "CheckResult",
    "ErrorSummary",
    "GateOutcome",
    "Report",
    "print_summary",
    "render_html",
    "render_junit",
    "render_markdown",
    "render_model_card",
    "write_html",
    "write_junit",
    "write_markdown",
    "write_model_card",
]
