"""The engine: dedupe by content key, cache, batches, concurrency, retries, progress."""

from assay.engine._cache import ResponseCache
from assay.engine._engine import Engine, EngineStats
from assay.engine._types import Request, Response, content_key

__all__ = ["Engine", "EngineStats", "Request", "Response", "ResponseCache", "content_key"]
