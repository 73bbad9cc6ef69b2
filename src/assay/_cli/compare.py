"""``assay compare``: the candidate's Report against the baseline's, paired, with a verdict."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from assay._cli._common import EXIT_GATE_FAILED, EXIT_OK, parse_margins, user_errors

#: Exit code of an inconclusive comparison.
EXIT_INCONCLUSIVE = 3


def _num(x: float | None, spec: str = "+.4f") -> str:
    return "—" if x is None or not math.isfinite(x) else format(x, spec)


def compare(
    candidate: Annotated[Path, typer.Argument(help="The candidate's report.json.")],
    baseline: Annotated[Path, typer.Argument(help="The baseline's (production) report.json.")],
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="A metric to compare (repeatable); default: headline."),
    ] = None,
    margin: Annotated[
        list[str] | None,
        typer.Option(help="Non-inferiority margin METRIC=VALUE (repeatable), e.g. accuracy=0.01."),
    ] = None,
    default_margin: Annotated[
        float, typer.Option(help="Margin of metrics without --margin.")
    ] = 0.0,
    alpha: Annotated[
        float | None, typer.Option(help="Significance level (default 1 − level).")
    ] = None,
    require_improvement: Annotated[
        bool, typer.Option("--require-improvement", help="GO also needs one metric better.")
    ] = False,
    html: Annotated[Path | None, typer.Option(help="Write an HTML page of the comparison.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the comparison as JSON.")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write a Markdown summary.")] = None,
    allow_truncated: Annotated[
        bool,
        typer.Option(
            "--allow-truncated",
            help="Compare the kept prefix when a report kept only the first keep_predictions rows.",
        ),
    ] = False,
) -> None:
    """Compare two Reports example by example: go (exit 0), no-go (1) or inconclusive (3)."""
    from assay._runner import compare_reports, comparison_report
    from assay.compare import CompareOptions

    with user_errors():
        opts = CompareOptions(
            metrics=metric or None,
            margins=parse_margins(margin),
            default_margin=default_margin,
            alpha=alpha,
            require_improvement=require_improvement,
        )
        c = compare_reports(
            candidate, baseline, opts, allow_truncated=allow_truncated, where="assay compare"
        )
        written = []
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(c.to_dict(), indent=2), encoding="utf-8")
            written.append(json_out)
        if html is not None or markdown is not None:
            doc = comparison_report(c, candidate, baseline)
            if html is not None:
                from assay.report._html import write_html

                written.append(write_html(doc, html))
            if markdown is not None:
                from assay.report._markdown import write_markdown

                written.append(write_markdown(doc, markdown))
    console = Console()
    style = {"go": "bold white on green", "no-go": "bold white on red"}.get(
        c.verdict, "bold black on yellow"
    )
    table = Table(
        title=f"{c.candidate} against {c.baseline} · n = {c.n} paired · α = {c.alpha:g} (Holm)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        pad_edge=False,
    )
    for col in (
        "metric",
        "candidate",
        "baseline",
        "difference [interval]",
        "p (Holm)",
        "margin",
        "status",
    ):
        table.add_column(col, justify="left" if col in ("metric", "status") else "right")
    for m in c.metrics:
        d = m.difference
        table.add_row(
            m.metric,
            _num(m.candidate, ".4f"),
            _num(m.baseline, ".4f"),
            f"{_num(d.value)} [{_num(d.lower)}, {_num(d.upper)}]",
            _num(m.p_holm, ".3g"),
            f"{m.margin:g}",
            m.status,
        )
    console.print(table)
    for reason in c.reasons:
        console.print(Text("· " + reason))
    for note in c.notes:
        console.print(Text("note: " + note, style="dim"))
    console.print(Text.assemble(("verdict ", "bold"), (f" {c.verdict.upper()} ", style)))
    for p in written:
        console.print(Text(f"wrote {p}", style="dim"))
    code = {"go": EXIT_OK, "no-go": EXIT_GATE_FAILED}.get(c.verdict, EXIT_INCONCLUSIVE)
    raise typer.Exit(code)
