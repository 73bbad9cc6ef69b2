"""``assay monitor export``: the live examples for the next fine-tune, from the monitor's store.

Registered under the ``monitor`` group (``monitor_app.command("export")(export_command)``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assay._cli._common import user_errors


def export_command(
    out: Annotated[Path, typer.Option(help="The file to write: .jsonl or .parquet.")],
    db: Annotated[
        str | None,
        typer.Option(
            help="The monitor's database URL (default: ASSAY_MONITOR_DB, else "
            "sqlite:///monitor.db).",
        ),
    ] = None,
    since: Annotated[
        str, typer.Option(help="Events since this long ago (7d, 12h, 30min) or this time.")
    ] = "7d",
    select: Annotated[
        str,
        typer.Option(
            help="Reasons, comma-separated: drifted, low-confidence, misclassified, "
            "disagreement, slice."
        ),
    ] = "drifted,low-confidence,misclassified",
    cap_per_reason: Annotated[int, typer.Option(help="The most examples per reason.")] = 1000,
    low_confidence: Annotated[
        float, typer.Option(help="Highest class probability below this is low-confidence.")
    ] = 0.6,
    drift_share: Annotated[
        float | None,
        typer.Option(help="Windows with a larger share of drifted columns count as drifted."),
    ] = None,
    production: Annotated[
        str | None, typer.Option(help="The production model version (default: the most common).")
    ] = None,
    format: Annotated[
        str | None, typer.Option(help="jsonl or parquet (default: from --out's extension).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sampling beyond the cap.")] = 0,
) -> None:
    """Export drifted, low-confidence, misclassified (... ) live examples for re-fine-tuning."""
    from assay.errors import MissingDependencyError

    with user_errors():
        try:
            from assay.monitor._export import export_examples
            from assay.monitor._store import Store
        except ImportError as exc:
            raise MissingDependencyError(
                f"assay monitor export needs the monitor extra ({exc.name} is missing): "
                "pip install 'assay[monitor]'"
            ) from None
        url = db or os.environ.get("ASSAY_MONITOR_DB") or "sqlite:///monitor.db"
        result = export_examples(
            Store(url),
            since,
            select.split(","),
            out,
            cap_per_reason=cap_per_reason,
            low_confidence=low_confidence,
            drift_share=drift_share,
            production=production,
            format=format,
            seed=seed,
        )
    counts = ", ".join(f"{k} {v}" for k, v in result.by_reason.items())
    Console().print(
        f"wrote {result.n_rows} examples ({counts}) from {result.n_events} events in "
        f"{result.n_windows} windows -> {result.path}",
        markup=False,
        highlight=False,
    )
