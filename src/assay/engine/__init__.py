"""The engine: dedupe by content key, cache, batches, concurrency, retries, progress."""

from assay.engine._types import Request, Response, content_key

__all__ = ["Request", "Response", "content_key"]
