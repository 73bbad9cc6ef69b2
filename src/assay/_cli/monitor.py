"""``assay monitor``: the monitor service (``serve``). The library lives in :mod:`assay.monitor`,
imported inside each command (it needs the ``monitor`` extra)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer

from assay._cli._common import user_errors
from assay._cli.monitor_export import export_command

app = typer.Typer(
    name="monitor",
    help="The monitor: a service that takes production traffic and scores it in windows.",
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
)

_MONITOR_PACKAGES = {"fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "prometheus_client"}


def _monitor_module(name: str) -> Any:
    """``assay.monitor.<name>``, or MissingDependencyError naming the extra."""
    from assay.errors import MissingDependencyError

    try:
        return importlib.import_module(f"assay.monitor.{name}")
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in _MONITOR_PACKAGES:
            raise
        raise MissingDependencyError(
            f"the monitor needs {missing}, which is not installed; install it with "
            "pip install 'assay[monitor]'"
        ) from None


@app.command("serve")
def serve(
    suite: Annotated[
        Path, typer.Option(help="The suite whose checks and gates score each window.")
    ],
    reference: Annotated[
        Path, typer.Option(help="Reference rows (Parquet, CSV, JSONL) drift is measured against.")
    ],
    db: Annotated[
        str | None,
        typer.Option(
            help="Database URL: sqlite:///monitor.db (default) or postgresql+psycopg://user@host/db "
            "(also ASSAY_MONITOR_DB)."
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default 127.0.0.1: this machine only).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8765).")] = None,
    tokens: Annotated[
        Path | None,
        typer.Option(
            help="YAML/JSON file of tokens and scopes (else ASSAY_MONITOR_TOKENS); see docs/monitor.md."
        ),
    ] = None,
    store_inputs: Annotated[
        str | None,
        typer.Option(help="How inputs are kept: raw, hash or truncate:N (personal data)."),
    ] = None,
    retention: Annotated[
        str | None, typer.Option(help="Prune raw events older than this (e.g. 30d); windows stay.")
    ] = None,
    window_every: Annotated[
        str | None,
        typer.Option(help="Tumbling time windows of this length, e.g. 1h, 1d, 30d (default 1h)."),
    ] = None,
    window_events: Annotated[
        int | None, typer.Option(help="Windows of this many events instead of time windows.")
    ] = None,
    rescore_every: Annotated[
        str | None,
        typer.Option(help="How often windows are scored again for labels that arrived (5min)."),
    ] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="POST alerts (firing and resolved) to this URL.")
    ] = None,
    production_version: Annotated[
        str | None,
        typer.Option(help="The model_version the windows score; other versions are candidates."),
    ] = None,
) -> None:
    """Serve the monitor's API (ingest, windows, alerts, metrics) until interrupted."""
    with user_errors():
        config = _monitor_module("_config")
        server = _monitor_module("_server")
        settings = config.MonitorSettings.from_env(
            db=db,
            host=host,
            port=port,
            tokens_file=tokens,
            store_inputs=store_inputs,
            retention=retention,
            webhook_url=webhook_url,
            production_version=production_version,
            window=_window_option(window_every, window_events, rescore_every),
        )
        server.serve(settings, suite, reference)


def _window_option(
    every: str | None, events: int | None, rescore_every: str | None
) -> dict[str, Any] | None:
    """The window settings the flags give (None: the environment's or the defaults)."""
    window: dict[str, Any] = {}
    if events is not None:
        window.update(every=None, events=events)
    elif every is not None:
        window["every"] = every
    if rescore_every is not None:
        window["rescore_every"] = rescore_every
    return window or None


app.command("export")(export_command)
