"""``Request`` and ``Response``: what checks ask of models and what comes back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from assay.models._base import Output, Payload

__all__ = ["Request", "Response", "content_key"]


def content_key(fingerprint: str, payload: Payload, params: dict[str, Any] | None = None) -> str:
    """The cache key of one model call: a hash of the model fingerprint, payload and parameters.

    Two requests with the same key are the same question to the same model, whichever check asked.
    """
    blob = json.dumps(
        {"m": fingerprint, "p": payload, "o": params or {}},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Request:
    """One question for one model.

    Attributes:
        key: content key (see :func:`content_key`); equal keys are answered once.
        model: the model's name in the suite.
        payload: the input.
        params: per-request options (generation settings); part of the key.
        tags: free labels for the asking check (``{"example_id": "17", "variant": "typos"}``);
            not part of the key.
    """

    key: str
    model: str
    payload: Payload
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """The answer to one Request.

    Attributes:
        key: the Request's key.
        output: what the model answered; ``None`` when it failed.
        latency_s: wall time of the call, per example (a batch's time divided by its size);
            for a cached answer, the latency measured when it was first asked.
        error: the error message when the call failed after retries, else ``None``.
        cached: whether this came from the cache rather than a fresh call.
    """

    key: str
    output: Output | None
    latency_s: float
    error: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.output is not None
