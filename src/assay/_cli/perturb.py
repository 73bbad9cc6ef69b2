"""``assay perturb``: write a perturbed copy of a data file's text column."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assay._cli._common import user_errors


def perturb(
    data: Annotated[Path | None, typer.Option(help="CSV, TSV, JSONL or Parquet file.")] = None,
    input: Annotated[str, typer.Option("--input", help="The text column to perturb.")] = "text",
    recipe: Annotated[
        str, typer.Option(help="Perturbations in order, e.g. typos:0.1,case,distractor.")
    ] = "typos",
    out: Annotated[Path, typer.Option(help="The JSONL file to write.")] = Path("perturbed.jsonl"),
    id: Annotated[
        str | None, typer.Option("--id", help="The id column (default: row number).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same output.")] = 0,
    list_: Annotated[bool, typer.Option("--list", help="List the perturbations and exit.")] = False,
) -> None:
    """Perturb a text column (typos, case, distractors, synonyms ...) and write JSON lines."""
    from assay.perturb import get_perturbation, perturb_file, perturbation_names

    console = Console()
    if list_:
        for name in perturbation_names():
            d = get_perturbation(name)
            keeps = "keeps label" if d.preserves_label else "may change label"
            doc = " ".join(d.description.split())
            console.print(
                f"[bold]{name}[/] ({d.kind}, {keeps}, severity {d.default_severity:g}): {doc}",
                highlight=False,
            )
        return
    if data is None:
        raise typer.BadParameter("give --data (or --list)", param_hint="--data")
    with user_errors():
        res = perturb_file(data, input=input, recipe=recipe, out=out, id=id, seed=seed)
    console.print(f"wrote [bold]{res['out']}[/]: {res['rows']} rows, {res['changed']} changed")
