"""The engine: dedupe by content key, cache, batches, concurrency, retries, progress."""

from assay._types import Request, Response, content_key
from assay.engine._cache import ResponseCache
from assay.engine._concurrency import concurrency_notes, concurrency_records
from assay.engine._engine import Engine, EngineStats

__all__ = [
    "Engine",
    "EngineStats",
    "Request",
    "Response",
    "ResponseCache",
    "concurrency_notes",
    "concurrency_records",
    "content_key",
]
