"""Secrets never reach an output: URL credentials and secret-named values are removed from what
assay records (reports, HTML, logs, error messages)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REDACTED", "redact_record", "redact_spec"]

_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^@/]*@)?(?P<rest>[^?#]*)[^\s]*")
#: Keys whose values are secrets wherever they appear (``api_key``, ``token``, ``password`` …).
_SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password|passwd|authorization)", re.I)
REDACTED = "[redacted]"


def redact_spec(spec: str) -> str:
    """A spec or URL safe to record: URL credentials, query strings and fragments removed.

    Example:
        >>> redact_spec("openai:https://user:key@api.example.com/v1?api_key=sk-1#x")
        'openai:https://api.example.com/v1'
    """
    return _URL.sub(lambda m: m.group("scheme") + m.group("rest"), spec)


def redact_record(value: Any) -> Any:
    """A copy of a JSON-like record (dicts, lists, strings) safe to write: every string through
    :func:`redact_spec`, and the value of every secret-named key (``api_key``, ``token``, …)
    replaced by ``[redacted]``; the names of environment variables (``api_key_env``) are kept.

    Example:
        >>> redact_record({"models": {"m": "openai:x@http://u:p@host/v1"}, "api_key": "sk-1"})
        {'models': {'m': 'openai:x@http://host/v1'}, 'api_key': '[redacted]'}
    """
    if isinstance(value, dict):
        return {
            k: (
                REDACTED
                if isinstance(k, str)
                and _SECRET_KEY.search(k)
                and not k.endswith("_env")
                and v is not None
                else redact_record(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_record(v) for v in value]
    if isinstance(value, str):
        return redact_spec(value)
    return value
