"""The ``assay`` command: a thin layer that parses arguments and calls the library."""

from __future__ import annotations

import typer

from assay._cli import compare as compare_cmd
from assay._cli import curves as curves_cmd
from assay._cli import cv as cv_cmd
from assay._cli import init as init_cmd
from assay._cli import leakage as leakage_cmd
from assay._cli import perturb as perturb_cmd
from assay._cli import report as report_cmd
from assay._cli import run as run_cmd

app = typer.Typer(
    name="assay",
    help="Is this fine-tuned model ready for the real world? Exit codes: 0 all gates pass, "
    "1 a gate failed, 2 a usage, config or data error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("run")(run_cmd.run)
app.command("init")(init_cmd.init)
app.command("report")(report_cmd.report)
app.command("perturb")(perturb_cmd.perturb)
app.command("curves")(curves_cmd.curves)
app.command("leakage")(leakage_cmd.leakage)
app.command("cv")(cv_cmd.cv)
app.command("compare")(compare_cmd.compare)


def main() -> None:  # pragma: no cover - console entry point
    app()
