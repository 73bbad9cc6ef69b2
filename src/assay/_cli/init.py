"""``assay init``: write a starter suite from a data file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assay._cli._common import EXIT_USAGE, err_console, user_errors


def init(
    data: Annotated[Path, typer.Option(help="The dataset file to evaluate on.")],
    label: Annotated[
        str | None,
        typer.Option(
            help="The label column (inferred when omitted: named like one, the model's classes, "
            "or the last column of few classes)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Model spec to put in the suite, e.g. sklearn:model.joblib (the file must exist; "
            "written relative to the suite's folder)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the suite.")] = Path("suite.yaml"),
    preset: Annotated[
        str | None,
        typer.Option(
            help="Checks to turn on: tabular, text, llm or image (inferred from the data when "
            "omitted)."
        ),
    ] = None,
    positive: Annotated[
        str | None,
        typer.Option(
            help="The positive class of a binary label (default: the label that reads as "
            "positive, else the rarer class)."
        ),
    ] = None,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust",
            help="Let init load a joblib/pickle --model (it runs code) to read its classes and "
            "features.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing suite file.")
    ] = False,
) -> None:
    """Write a starter suite.yaml, inferring the column roles and checks from the data."""
    from assay._runner import write_starter_suite

    if out.exists() and not force:
        err_console.print(f"[bold red]error:[/] {out} exists; pass --force to overwrite it")
        raise typer.Exit(EXIT_USAGE)
    with user_errors():
        text, reasons = write_starter_suite(
            data=data,
            label=label,
            model=model,
            out=out,
            preset=preset,
            positive=positive,
            trust=trust,
        )
    console = Console()
    console.print(f"wrote [bold]{out}[/]")
    for r in reasons:
        console.print(f"  • {r}", markup=False)
    needs_trust = "\n  candidate: sklearn:" in text
    flag = " --trust" if needs_trust else ""
    console.print(f"next: [bold]assay run {out}{flag}[/]")
    if needs_trust:
        console.print("  (--trust: loading a joblib/pickle file runs code; only for a file you trust)")
