"""``assay shadow``: replay logged production events through a candidate; a Report with gates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assay._cli._common import EXIT_GATE_FAILED, EXIT_OK, report_paths, user_errors


def shadow(
    events: Annotated[Path, typer.Option(help="Logged production events (JSONL, one a line).")],
    candidate: Annotated[
        str, typer.Option(help="The candidate model: sklearn:, python:, hf:, openai: spec.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder: report.json, report.html, disagreements.jsonl."),
    ] = None,
    gates: Annotated[
        list[str] | None,
        typer.Option("--gate", help="A gate (repeatable), e.g. 'shadow.agreement.lower >= 0.9'."),
    ] = None,
    metrics: Annotated[
        list[str] | None,
        typer.Option("--metric", help="A metric compared on labelled events (repeatable)."),
    ] = None,
    margin: Annotated[
        list[str] | None,
        typer.Option("--margin", help="METRIC=VALUE: the loss accepted (repeatable)."),
    ] = None,
    positive_label: Annotated[
        str | None, typer.Option(help="The positive class (ROC AUC on a binary task).")
    ] = None,
    no_cache: Annotated[bool, typer.Option(help="Ask the candidate again (no cache).")] = False,
    trust: Annotated[
        bool, typer.Option(help="Allow model files that execute code (pickle/joblib).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the bootstraps.")] = 0,
) -> None:
    """Replay production events through a candidate and compare; exit 1 if a gate fails."""
    from assay._runner import shadow as run_shadow
    from assay.errors import ConfigError
    from assay.report._console import print_summary

    with user_errors():
        margins: dict[str, float] = {}
        for item in margin or []:
            name, sep, value = item.rpartition("=")
            try:
                margins[name] = float(value)
            except ValueError:
                sep = ""
            if not sep or not name:
                raise ConfigError(f"--margin {item!r}: write METRIC=VALUE, e.g. accuracy=0.01")
        report = run_shadow(
            events,
            candidate,
            out=out,
            gates=gates or [],
            metrics=metrics,
            margins=margins,
            positive_label=positive_label,
            cache=None if no_cache else ".assay/cache.db",
            trust=trust,
            seed=seed,
        )
    r = report.results[0]
    counts = r.tables["counts"]
    agreement = r.metrics["agreement"]
    console = Console()
    console.print(
        f"{counts['compared']:,} events compared ({counts['labelled']:,} labelled): agreement "
        f"{agreement.value:.4f} [{agreement.lower:.4f}, {agreement.upper:.4f}], "
        f"{counts['disagreements']:,} disagreements"
        + (
            f", candidate failed on {counts['candidate_failed']:,}"
            if counts["candidate_failed"]
            else ""
        ),
        highlight=False,
    )
    paths = report_paths(out)
    if out is not None:
        paths.append(out / "disagreements.jsonl")
    print_summary(report, console=console, paths=paths)
    raise typer.Exit(EXIT_OK if report.passed else EXIT_GATE_FAILED)
