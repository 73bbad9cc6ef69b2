"""What every command shares: error display, exit codes and options parsed alike."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console

from assay.errors import AssayError, ConfigError

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2

err_console = Console(stderr=True, soft_wrap=True)


def print_unexpected(e: BaseException) -> None:
    """One short message for an error assay did not foresee (a bug, or a case it should name)."""
    where = ""
    tb = e.__traceback__
    while tb is not None:  # the innermost frame in assay's own code says where it broke
        path = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        if "/assay/" in path:
            module = path.rsplit("/assay/", 1)[-1]
            where = f" (in {tb.tb_frame.f_code.co_name}, {module}:{tb.tb_lineno})"
        tb = tb.tb_next
    err_console.print(f"[bold red]error:[/] unexpected {type(e).__name__}{where}: ", end="")
    err_console.print(str(e) or "(no message)", markup=False, highlight=False)
    err_console.print(
        "This is a bug in assay or an input it does not check yet: re-run with --debug (or "
        "ASSAY_DEBUG=1) for the traceback, and report it with the command you ran.",
        markup=False,
        highlight=False,
    )


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


def parse_margins(items: list[str] | None) -> dict[str, float]:
    """``--margin METRIC=VALUE`` options (compare, shadow) as ``{metric: value}``.

    Raises:
        ConfigError: an item without a metric name, ``=`` or a number.
    """
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(
                f"--margin {item!r}: expected METRIC=VALUE, e.g. --margin accuracy=0.01"
            ) from None
    return out
