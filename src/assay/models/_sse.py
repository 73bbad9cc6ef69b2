"""Server-sent events: the ``data:`` payloads of a ``text/event-stream``, one event at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator

__all__ = ["sse_data"]


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """Yield the data of each event (its ``data:`` lines joined by newlines).

    Events end at a blank line; comments (``:``) and other fields (``event:``, ``id:``) are
    skipped. A last event without its blank line is still yielded, so a caller can tell a stream
    cut short (no ``[DONE]``) from one that ended properly.

    Example:
        >>> import asyncio
        >>> async def lines():
        ...     for x in ["data: a", "", ": ping", "data: b", "data: c", ""]:
        ...         yield x
        >>> async def collect():
        ...     return [d async for d in sse_data(lines())]
        >>> asyncio.run(collect())
        ['a', 'b\\nc']
    """
    buf: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if buf:
                yield "\n".join(buf)
                buf = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            buf.append(value[1:] if value.startswith(" ") else value)
    if buf:
        yield "\n".join(buf)
