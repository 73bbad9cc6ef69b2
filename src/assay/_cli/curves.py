"""``assay curves``: diagnose overfitting from a training log."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from assay._cli._common import EXIT_OK, user_errors


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
    as_json: Annotated[bool, typer.Option("--json", help="Print the diagnosis as JSON.")] = False,
) -> None:
    """Read a training log and say whether (and from which step) the model overfits."""
    from assay.generalization import diagnose, read_log

    console = Console()
    with user_errors():
        log = read_log(source)
        d = diagnose(
            log,
            metric=metric,
            train=train,
            validation=validation,
            smoothing=smoothing,
            patience=patience,
            mild=mild,
            severe=severe,
        )
    if as_json:
        out = d.to_dict()
        out.pop("curves")
        print(json.dumps(out, indent=2))
        raise typer.Exit(EXIT_OK)
    colour = {"none": "green", "mild": "yellow", "severe": "red"}[d.verdict]
    console.print(f"[bold]{log.format}[/] log {log.source}: {log.describe()}", highlight=False)
    console.print(
        f"pair: {d.train_series} (training) / {d.validation_series} (validation), "
        f"{d.direction} is better",
        highlight=False,
    )
    console.print(f"overfitting: [bold {colour}]{d.verdict}[/]")
    console.print(
        f"best step {d.best_step:g} (validation {d.best_validation:.4g}); last step "
        f"{d.last_step:g} (validation {d.last_validation:.4g}, {d.validation_rise:.1%} "
        f"off the best)",
        highlight=False,
    )
    console.print(
        f"gap (validation worse by): {d.gap_at_best:.4g} at best, {d.gap_at_last:.4g} at last",
        highlight=False,
    )
    if d.divergence_step is not None:
        console.print(f"divergence from step {d.divergence_step:g}", highlight=False)
    console.print(d.recommendation, highlight=False)
    for n in d.notes:
        console.print(f"[dim]note: {n}[/]", highlight=False)
