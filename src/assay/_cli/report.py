"""``assay report``: re-render a Report from its JSON alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assay._cli._common import EXIT_GATE_FAILED, EXIT_OK, user_errors


def report(
    report_json: Annotated[Path, typer.Argument(help="A report.json written by `assay run`.")],
    html: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write a Markdown summary (for a pull-request comment).")
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(help="Write JUnit XML, one test case per gate.")
    ] = None,
    model_card: Annotated[
        Path | None, typer.Option(help="Write a model card (Markdown) for the first model.")
    ] = None,
) -> None:
    """Print a report's summary and re-render it, without the model or the data."""
    from assay.report import Report
    from assay.report._console import print_summary
    from assay.report._html import write_html

    with user_errors():
        rep = Report.load(report_json)
    written = []
    if html is not None:
        written.append(write_html(rep, html))
    if markdown is not None:
        from assay.report._markdown import write_markdown

        written.append(write_markdown(rep, markdown))
    if junit is not None:
        from assay.report._junit import write_junit

        written.append(write_junit(rep, junit))
    if model_card is not None:
        from assay.report._model_card import write_model_card

        written.append(write_model_card(rep, model_card))
    print_summary(rep, console=Console(), paths=written)
    raise typer.Exit(EXIT_OK if rep.passed else EXIT_GATE_FAILED)
