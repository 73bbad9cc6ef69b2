"""The engine: dedupe by content key, cache, batches, concurrency, retries, progress."""

from assay._types import Request, Response, content_key
from assay.engine._cache import ResponseCache
from assay.engine._engine import Engine, EngineStats

__all__ = ["Engine", "EngineStats", "Request", "Response", "ResponseCache", "content_key"]
