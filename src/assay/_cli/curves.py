"""``assay curves``: diagnose overfitting from a training log, as a Report with gates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from assay._cli._common import EXIT_GATE_FAILED, EXIT_OK, report_paths, user_errors


def curves(
    source: Annotated[
        str,
        typer.Argument(
            help="A TensorBoard folder, a trainer_state.json (or its folder), a CSV/JSONL log, or "
            "mlflow:<tracking uri>#<run id>."
        ),
    ],
    metric: Annotated[str | None, typer.Option(help="Metric to judge (default: a loss).")] = None,
    train: Annotated[str | None, typer.Option(help="Training series name.")] = None,
    validation: Annotated[str | None, typer.Option(help="Validation series name.")] = None,
    smoothing: Annotated[float, typer.Option(help="EMA weight for the training curve.")] = 0.6,
    patience: Annotated[int, typer.Option(help="Evaluations in a row for divergence.")] = 3,
    mild: Annotated[float, typer.Option(help="Validation rise for a mild verdict.")] = 0.02,
    severe: Annotated[float, typer.Option(help="Validation rise for a severe verdict.")] = 0.10,
    gates: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            help="A gate on the result (repeatable), e.g. 'generalization.curves.severity <= 1' "
            "(0 none, 1 mild, 2 severe).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder for report.json and report.html.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the diagnosis as JSON.")] = False,
) -> None:
    """Read a training log and say whether (and from which step) the model overfits; exit 1 if a
    gate fails."""
    from assay._runner import diagnose_curves
    from assay.report._console import print_summary

    with user_errors():
        report = diagnose_curves(
            source,
            metric=metric,
            train=train,
            validation=validation,
            smoothing=smoothing,
            patience=patience,
            mild=mild,
            severe=severe,
            gates=gates or [],
            out=out,
        )
    code = EXIT_OK if report.passed else EXIT_GATE_FAILED
    d: Mapping[str, Any] = report.results[0].tables["curves"]
    if as_json:
        gate_rows = [g.model_dump(mode="json") for g in report.gates]
        body = {k: v for k, v in d.items() if k != "curves"}
        print(json.dumps({**body, "passed": report.passed, "gates": gate_rows}, indent=2))
        raise typer.Exit(code)
    console = Console()
    colour = {"none": "green", "mild": "yellow", "severe": "red"}.get(str(d["verdict"]), "bold")
    console.print(f"[bold]{d['format']}[/] log {d['source']}: {d['description']}", highlight=False)
    console.print(
        f"pair: {d['train_series']} (training) / {d['validation_series']} (validation), "
        f"{d['direction']} is better",
        highlight=False,
    )
    console.print(f"overfitting: [bold {colour}]{d['verdict']}[/]")
    console.print(
        f"best step {_num(d['best_step'], 'g')} (validation {_num(d['best_validation'])}); last "
        f"step {_num(d['last_step'], 'g')} (validation {_num(d['last_validation'])}, "
        f"{_num(d['validation_rise'], '.1%')} off the best)",
        highlight=False,
    )
    console.print(
        f"gap (validation worse by): {_num(d['gap_at_best'])} at best, "
        f"{_num(d['gap_at_last'])} at last",
        highlight=False,
    )
    if d["divergence_step"] is not None:
        console.print(f"divergence from step {_num(d['divergence_step'], 'g')}", highlight=False)
    console.print(str(d["recommendation"]), highlight=False)
    for n in d.get("notes") or []:
        console.print(f"[dim]note: {n}[/]", highlight=False)
    print_summary(report, console=console, paths=report_paths(out))
    raise typer.Exit(code)


def _num(x: Any, spec: str = ".4g") -> str:
    """A number of the diagnosis; ``None`` (NaN in the Report) is "undefined"."""
    return "undefined" if x is None else format(x, spec)
