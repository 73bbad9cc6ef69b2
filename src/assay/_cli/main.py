"""The ``assay`` command: a thin layer that parses arguments and calls the library."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from assay._cli import compare as compare_cmd
from assay._cli import curves as curves_cmd
from assay._cli import cv as cv_cmd
from assay._cli import drift as drift_cmd
from assay._cli import init as init_cmd
from assay._cli import leakage as leakage_cmd
from assay._cli import load as load_cmd
from assay._cli import monitor as monitor_cmd
from assay._cli import perturb as perturb_cmd
from assay._cli import report as report_cmd
from assay._cli import run as run_cmd
from assay._cli import shadow as shadow_cmd
from assay._cli._common import EXIT_USAGE, print_unexpected

app = typer.Typer(
    name="assay",
    help="Is this fine-tuned model ready for the real world? Exit codes: 0 all gates pass (or "
    "GO), 1 a gate failed (or NO-GO), 2 a usage, config, data or model error, 3 a comparison "
    "is inconclusive (assay compare: more examples or a margin would settle it).",
    no_args_is_help=True,
    # plain help: flags read `--trust`, options `--seed <int>` (rich help showed `--trust <bool>`)
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from assay._version import __version__

        typer.echo(f"assay {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print assay's version and exit.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the full traceback of an unexpected error (also ASSAY_DEBUG=1).",
        ),
    ] = False,
) -> None:
    """Options of every command (read again by :func:`main`, which handles the errors)."""


app.command("run")(run_cmd.run)
app.command("init")(init_cmd.init)
app.command("report")(report_cmd.report)
app.command("perturb")(perturb_cmd.perturb)
app.command("curves")(curves_cmd.curves)
app.command("leakage")(leakage_cmd.leakage)
app.command("drift")(drift_cmd.drift)
app.command("cv")(cv_cmd.cv)
app.command("compare")(compare_cmd.compare)
app.command("shadow")(shadow_cmd.shadow)
app.add_typer(monitor_cmd.app, name="monitor")
app.command("load")(load_cmd.load)


def main(argv: list[str] | None = None) -> None:
    """The console entry point: the app, with any error assay did not foresee turned into a
    short message and exit code 2 (the traceback only with ``--debug`` or ``ASSAY_DEBUG=1``).

    assay's own errors are reported by each command (``user_errors``); this catches the rest, so
    that a CI step never reads a crash as a gate failure (exit 1).
    """
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("ASSAY_DEBUG", "") not in ("", "0")
    try:
        app(args=args, prog_name="assay")
    except Exception as e:
        if debug:
            raise
        print_unexpected(e)
        sys.exit(EXIT_USAGE)
