"""What every command shares: error display and exit codes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console

from assay.errors import AssayError

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2

err_console = Console(stderr=True, soft_wrap=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Print assay's own errors plainly (no traceback) and exit with code 2."""
    try:
        yield
    except AssayError as e:
        err_console.print(f"[bold red]error:[/] {type(e).__name__}: ", end="")
        err_console.print(str(e), markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None


def report_paths(out: Path | None) -> list[Path]:
    """The files ``write_report_files`` wrote into ``out`` (none without ``--out``)."""
    return [] if out is None else [out / "report.json", out / "report.html"]
