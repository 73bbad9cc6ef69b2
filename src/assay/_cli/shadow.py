"""``assay shadow``: replay logged production events through a candidate; a Report with gates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assay._cli._common import EXIT_GATE_FAILED, EXIT_OK, parse_margins, report_paths, user_errors


def shadow(
    events: Annotated[Path, typer.Option(help="Logged production events (JSONL, one a line).")],
    candidate: Annotated[
        str, typer.Option(help="The candidate model: sklearn:, python:, hf:, openai: spec.")
    ],
    options: Annotated[
        str | None,
        typer.Option(
            help="The candidate's model options as JSON, as under models: in a suite, e.g. "
            '\'{"verbaliser": {"pos": "positive", "neg": "negative"}}\'.'
        ),
    ] = None,
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
    batch_size: Annotated[
        int,
        typer.Option(help="Inputs per candidate call; 1 keeps its latency per request."),
    ] = 1,
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
        margins = parse_margins(margin)
        try:
            model_options = json.loads(options) if options else None
        except json.JSONDecodeError as e:
            raise ConfigError(f"--options: not JSON ({e.msg}); give an object") from None
        if model_options is not None and not isinstance(model_options, dict):
            raise ConfigError('--options: give a JSON object, e.g. \'{"prompt": "..."}\'')
        report = run_shadow(
            events,
            candidate,
            options=model_options,
            out=out,
            batch_size=batch_size,
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
    diffs = {k: e for k, e in r.metrics.items() if k.endswith(".diff")}
    if diffs:
        console.print("differences, candidate − production:", highlight=False)
    for name, d in diffs.items():
        console.print(
            f"  {name:<22} {d.value:+.4f} [{d.lower:+.4f}, {d.upper:+.4f}]  n={d.n}",
            highlight=False,
            markup=False,
        )
    for flag in r.flags:
        console.print(f"note: {flag}", highlight=False, markup=False)
    paths = report_paths(out)
    if out is not None:
        paths.append(out / "disagreements.jsonl")
    print_summary(report, console=console, paths=paths)
    raise typer.Exit(EXIT_OK if report.passed else EXIT_GATE_FAILED)
