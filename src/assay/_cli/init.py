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
        str | None, typer.Option(help="The label column (guessed when omitted).")
    ] = None,
    model: Annotated[
        str, typer.Option(help="Model spec to put in the suite.")
    ] = "sklearn:model.joblib",
    out: Annotated[Path, typer.Option(help="Where to write the suite.")] = Path("suite.yaml"),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing suite file.")
    ] = False,
) -> None:
    """Write a starter suite.yaml, inferring the column roles from the data."""
    from assay._runner import write_starter_suite

    if out.exists() and not force:
        err_console.print(f"[bold red]error:[/] {out} exists; pass --force to overwrite it")
        raise typer.Exit(EXIT_USAGE)
    with user_errors():
        _, reasons = write_starter_suite(data=data, label=label, model=model, out=out)
    console = Console()
    console.print(f"wrote [bold]{out}[/]")
    for r in reasons:
        console.print(f"  • {r}", markup=False)
    trust = " --trust" if model.startswith("sklearn:") else ""
    console.print(f"next: [bold]assay run {out}{trust}[/]")
    if trust:
        console.print("  (--trust: loading a joblib/pickle file runs code; only for a file you trust)")
