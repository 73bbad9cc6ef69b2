"""Run the monitor: open and migrate the store, build the service (:func:`start_monitor`),
serve it with uvicorn (127.0.0.1 unless told otherwise), and prune raw events past the retention
age in the background."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from pathlib import Path

import uvicorn

from assay.monitor._config import MonitorSettings, TokenSet
from assay.monitor._service import require_files, start_monitor
from assay.monitor._store import Store

__all__ = ["open_store", "serve"]

log = logging.getLogger("assay.monitor")


def open_store(settings: MonitorSettings) -> Store:
    """The settings' store, migrated to the newest schema."""
    store = Store(
        settings.db,
        store_inputs=settings.store_inputs,
        input_hash_key=settings.input_hash_key,
        sqlite_synchronous=settings.sqlite_synchronous,
    )
    store.migrate()
    return store


def _prune_loop(store: Store, settings: MonitorSettings, stop: threading.Event) -> None:
    retention = settings.retention_delta
    if retention is None:
        return
    every = min(retention.total_seconds() / 10, 3600.0)
    while not stop.is_set():
        try:
            n = store.prune(datetime.now(timezone.utc) - retention)
            if n:
                log.info("retention: pruned %d raw events older than %s", n, settings.retention)
        except Exception as exc:
            log.error("retention: prune failed (%s)", type(exc).__name__)
        stop.wait(every)


def serve(
    settings: MonitorSettings,
    suite_path: str | Path,
    reference_path: str | Path,
    *,
    tokens: TokenSet | None = None,
) -> None:
    """Serve the monitor until interrupted (Ctrl-C or SIGTERM): the API, the window worker that
    scores each closed window with the suite (and alerts), the dashboard at ``/dashboard``.

    Args:
        settings: the database, host (127.0.0.1 by default), port (8765), tokens and limits.
        suite_path: the suite whose checks and gates score each window.
        reference_path: the reference data (Parquet, CSV, JSONL) drift is measured against.
        tokens: the known tokens (default: from the settings' file or ``ASSAY_MONITOR_TOKENS``).
    """
    # refuse missing tokens or files before the database is created or migrated
    tokens = tokens if tokens is not None else TokenSet.load(settings)
    require_files(Path(suite_path), Path(reference_path))
    store = open_store(settings)
    service = start_monitor(settings, suite_path, reference_path, store=store, tokens=tokens)
    app = service.app
    stop = threading.Event()
    pruner = threading.Thread(
        target=_prune_loop, args=(store, settings, stop), name="assay-monitor-prune", daemon=True
    )
    pruner.start()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        server_header=False,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        stop.set()
        service.stop()
        pruner.join(timeout=5)
        store.close()
