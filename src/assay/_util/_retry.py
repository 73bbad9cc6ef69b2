"""Which model failures are transient, which fail every call, and how long to wait.

The one place that classifies a failed call (the engine asks; adapters only raise):

- **transient** (:func:`is_retryable`): a 429, 5xx, timeout, dropped connection or malformed
  answer — asked again with backoff;
- **model-wide** (:func:`model_wide_cause`): the endpoint refused the credentials (401/403), does
  not know the model or path (404), or cannot be reached (connection refused, DNS failure) — every
  call fails the same way until the user fixes it. An unreachable server is also transient (it may
  be restarting), but only once the model has answered in this run;
- anything else fails the one input it was asked about.
"""

from __future__ import annotations

import random
import socket

import httpx

from assay.errors import ModelError, RetryableModelError

__all__ = [
    "MAX_BACKOFF_S",
    "backoff_delay",
    "connect_failure",
    "describe_error",
    "is_retryable",
    "model_wide_cause",
]

#: The longest computed wait between two attempts; a server's ``retry_after_s`` may ask for more.
MAX_BACKOFF_S = 60.0

# Transport failures an adapter may let through: a timeout or a dropped connection is worth
# another try; a malformed URL or an unsupported protocol is not.
_TRANSIENT_HTTPX: tuple[type[BaseException], ...] = (httpx.TimeoutException, httpx.NetworkError)


def is_retryable(exc: BaseException) -> bool:
    """Whether the engine should call again after ``exc``."""
    return isinstance(exc, (RetryableModelError, *_TRANSIENT_HTTPX))


def model_wide_cause(exc: BaseException) -> str | None:
    """A short name of the cause when ``exc`` fails every call of its model, else ``None``.

    An adapter says so with ``ModelError(model_wide=...)``; an ``httpx.ConnectError`` that a model
    let through is classified here too.
    """
    if isinstance(exc, ModelError):
        return exc.model_wide
    if isinstance(exc, httpx.ConnectError):
        return connect_failure(exc)
    return None


def connect_failure(exc: BaseException) -> str:
    """``"DNS lookup failed"``, ``"connection refused"`` or ``"cannot connect"``: why a connection
    could not be opened, read from the exception's chain of causes."""
    seen: BaseException | None = exc
    for _ in range(16):  # a chain of causes is short; a cycle must not hang us
        if seen is None:
            break
        if isinstance(seen, socket.gaierror):
            return "DNS lookup failed"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    if "name or service not known" in text or "nodename nor servname" in text:
        return "DNS lookup failed"
    if "connection refused" in text:
        return "connection refused"
    return "cannot connect"


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
