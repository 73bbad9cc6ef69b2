"""Test doubles for the engine tests.

These are stand-ins for models, used only where a test is about the engine's own logic
(dedupe, caching, batching, retries, concurrency) and not about any real model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from assay.engine import Request, content_key
from assay.models import ModelInfo, Output


class CountingModel:
    """Answers ``len(payload)`` as a label and records every payload it is asked about."""

    def __init__(
        self,
        fingerprint: str = "fp-count",
        *,
        sleep_s: float = 0.0,
        fail: Callable[[list[Any]], Exception | None] | None = None,
    ) -> None:
        self.fingerprint = fingerprint
        self.sleep_s = sleep_s
        self.fail = fail
        self.calls: list[list[Any]] = []
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    @property
    def n_items(self) -> int:
        return sum(len(c) for c in self.calls)

    def info(self) -> ModelInfo:
        return ModelInfo("m", "test:counting", "classification", self.fingerprint)

    def predict(self, batch: Sequence[Any], params: dict[str, Any] | None = None) -> list[Output]:
        start = time.perf_counter()
        with self._lock:
            self.calls.append(list(batch))
        if self.fail is not None:
            exc = self.fail(list(batch))
            if exc is not None:
                raise exc
        if self.sleep_s:
            time.sleep(self.sleep_s)
        with self._lock:
            self.spans.append((start, time.perf_counter()))
        return [Output(label=str(len(str(p)))) for p in batch]


def requests_for(
    payloads: Sequence[Any], fingerprint: str = "fp-count", model: str = "m"
) -> list[Request]:
    return [
        Request(content_key(fingerprint, p), model, p, tags={"i": str(i)})
        for i, p in enumerate(payloads)
    ]
