"""``assay run``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assay._cli._common import EXIT_GATE_FAILED, EXIT_OK, user_errors


class Backend(str, Enum):
    local = "local"
    ray = "ray"


def run(
    suite: Annotated[Path, typer.Argument(help="The suite YAML file.")],
    model: Annotated[
        str | None,
        typer.Option(
            help="Model spec replacing the suite's first model, e.g. sklearn:model.joblib "
            "(a relative path is relative to the current folder)."
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            help="Dataset file replacing the suite's primary dataset path (relative to the "
            "current folder)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output folder for report.json and report.html (default: the suite's out:, "
            "relative to the suite's folder; without one, ./out)."
        ),
    ] = None,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust", help="Allow loading model files that execute code (pickle/joblib)."
        ),
    ] = False,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Ask the models again; do not read or write the cache."),
    ] = False,
    seed: Annotated[
        int | None, typer.Option(help="Random seed for intervals and sampling.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    backend: Annotated[
        Backend | None,
        typer.Option(
            help="Where models are called: local (this process) or ray (Ray actors: the suite's "
            "engine.ray.address, else RAY_ADDRESS, else Ray on this machine). Default: the "
            "suite's engine.backend."
        ),
    ] = None,
    mlflow: Annotated[
        str | None,
        typer.Option(help="Log the report to MLflow: sqlite:///mlflow.db, http://host:5000, …"),
    ] = None,
    tensorboard: Annotated[
        Path | None, typer.Option(help="Write TensorBoard event files into this folder.")
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="Evaluate every checkpoint-* folder in turn (metric vs step)."),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(help="Also write the gates as JUnit XML (for CI) to this file.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Also write a Markdown summary (for a PR comment) here.")
    ] = None,
) -> None:
    """Run a suite: evaluate the models, write the report, decide the gates.

    Paths given here are relative to the current folder; paths inside the suite file are
    relative to the suite's folder.
    """
    from assay import evaluate
    from assay.config import read_suite
    from assay.report._console import print_summary

    series = None
    with user_errors():
        if checkpoints is not None:
            from assay._runner import checkpoint_series, evaluate_checkpoints

            report = evaluate_checkpoints(
                suite,
                checkpoints,
                out=out,
                data=data,
                trust=trust or None,
                no_cache=no_cache,
                seed=seed,
                progress=not quiet,
                backend=backend.value if backend is not None else None,
            )
            sweep = report.find("checkpoints")
            series = checkpoint_series(sweep) if sweep is not None else None
        else:
            report = evaluate(
                suite,
                model=model,
                data=data,
                out=out,
                trust=trust or None,
                no_cache=no_cache,
                seed=seed,
                progress=not quiet,
                backend=backend.value if backend is not None else None,
            )
    with user_errors():
        out_dir = out if out is not None else read_suite(suite).out_dir()
    written = [out_dir / "report.json", out_dir / "report.html"]
    with user_errors():
        if junit is not None:
            from assay.report import write_junit

            written.append(write_junit(report, junit))
        if markdown is not None:
            from assay.report import write_markdown

            written.append(write_markdown(report, markdown))
        if tensorboard is not None:
            from assay.tracking import write_tensorboard

            write_tensorboard(report, tensorboard, series=series)
        if mlflow is not None:
            from assay.tracking import log_report, mlflow_run_url

            run_id = log_report(
                report,
                mlflow,
                series=series,
                artifacts=[out_dir / "report.json", out_dir / "report.html"],
            )
            Console().print(
                f"MLflow run {run_id}: {mlflow_run_url(mlflow, run_id)}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    print_summary(report, console=Console(), paths=written)
    raise typer.Exit(EXIT_OK if report.passed else EXIT_GATE_FAILED)
