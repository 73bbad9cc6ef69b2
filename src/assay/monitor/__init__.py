"""The monitor: a small self-hosted service that takes production traffic, scores it in windows
with the suite's checks and gates, alerts, and exports the hard cases for the next fine-tune.

Needs the ``monitor`` extra (``pip install 'assay[monitor]'``). Names are imported on first use,
so a process that needs only the store (a window worker, a test) does not load the web app.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.monitor._app import create_app
    from assay.monitor._config import MonitorSettings, TokenSet
    from assay.monitor._schema import Event, Label
    from assay.monitor._server import serve
    from assay.monitor._service import MonitorService, start_monitor
    from assay.monitor._store import IngestResult, LabelResult, Store, StoredEvent

_WHERE = {
    "Event": "assay.monitor._schema",
    "IngestResult": "assay.monitor._store",
    "Label": "assay.monitor._schema",
    "LabelResult": "assay.monitor._store",
    "MonitorService": "assay.monitor._service",
    "MonitorSettings": "assay.monitor._config",
    "Store": "assay.monitor._store",
    "StoredEvent": "assay.monitor._store",
    "TokenSet": "assay.monitor._config",
    "create_app": "assay.monitor._app",
    "serve": "assay.monitor._server",
    "start_monitor": "assay.monitor._service",
}

__all__ = [
    "Event",
    "IngestResult",
    "Label",
    "LabelResult",
    "MonitorService",
    "MonitorSettings",
    "Store",
    "StoredEvent",
    "TokenSet",
    "create_app",
    "serve",
    "start_monitor",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'assay.monitor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
