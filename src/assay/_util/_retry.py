"""Which model failures are transient, and how long to wait before trying again."""

from __future__ import annotations

import random

import httpx

from assay.errors import RetryableModelError

__all__ = ["MAX_BACKOFF_S", "backoff_delay", "describe_error", "is_retryable"]

#: The longest computed wait between two attempts; a server's ``retry_after_s`` may ask for more.
MAX_BACKOFF_S = 60.0

# Transport failures an adapter may let through: a timeout or a dropped connection is worth
# another try; a malformed URL or an unsupported protocol is not.
_TRANSIENT_HTTPX: tuple[type[BaseException], ...] = (httpx.TimeoutException, httpx.NetworkError)


def is_retryable(exc: BaseException) -> bool:
    """Whether the engine should call again after ``exc``."""
    return isinstance(exc, (RetryableModelError, *_TRANSIENT_HTTPX))


def backoff_delay(
    attempt: int, *, base_s: float, rng: random.Random, retry_after_s: float | None = None
) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

    Exponential backoff with jitter: ``base_s * 2**attempt`` scaled by a uniform factor in
    [0.5, 1), capped at :data:`MAX_BACKOFF_S`. Jitter spreads the retries of concurrent batches so
    they do not hit a rate-limited server at the same instant. A ``retry_after_s`` from the server
    is a floor: we never call back sooner than asked.
    """
    delay = min(base_s * (2.0**attempt), MAX_BACKOFF_S) * (0.5 + rng.random() / 2.0)
    if retry_after_s is not None and retry_after_s > delay:
        delay = float(retry_after_s)
    return max(delay, 0.0)


def describe_error(exc: BaseException) -> str:
    """``"<ExceptionType>: message"``, the form recorded in an error Response."""
    message = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {message}" if message else name
