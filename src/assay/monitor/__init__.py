"""The monitor: a small self-hosted service that takes production traffic, scores it in windows
with the suite's checks and gates, alerts, and exports the hard cases for the next fine-tune.

Needs the ``monitor`` extra (``pip install 'assay[monitor]'``)."""

from assay.monitor._app import create_app
from assay.monitor._config import MonitorSettings, TokenSet
from assay.monitor._schema import Event, Label
from assay.monitor._server import serve
from assay.monitor._store import IngestResult, LabelResult, Store, StoredEvent

__all__ = [
    "Event",
    "IngestResult",
    "Label",
    "LabelResult",
    "MonitorSettings",
    "Store",
    "StoredEvent",
    "TokenSet",
    "create_app",
    "serve",
]
