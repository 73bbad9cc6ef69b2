"""A small HTTP/1.1 keep-alive client on asyncio Protocols, for load tests only.

httpx (with httpcore and anyio under it) spends more CPU per request than a load generator can
afford: on one core it tops out near 400 requests/s, far below the servers it should measure.
This client does the least a POST to one origin needs: a pool of keep-alive connections (as many
as the requests in flight), the request head built once per URL, responses framed by
``Content-Length``, ``Transfer-Encoding: chunked`` or the connection's end, read whole or line
by line (server-sent events). TLS uses the context httpx would (``https:``). No proxies, no
HTTP/2, no redirects, no cookies, no compression: :func:`unsupported` says when a URL needs any
of them, and the caller then stays on httpx.

It speaks httpx's dialect where :mod:`assay.models._openai` reads an answer (``post`` /
``stream``, ``status_code``, ``headers``, ``text``, ``json()``, ``aread()``, ``aiter_lines()``)
and raises httpx's exceptions (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
``RemoteProtocolError``), so the adapter's request building, answer parsing, stream timings and
error classification are the same whichever client sends.

A keep-alive connection the server closed while idle is noticed before it is reused (or, when the
close crosses the request, by an answer that never began) and the request is sent again once on
a fresh connection: :attr:`Http1Client.stale_retries` counts those; :attr:`connections_opened`
counts every connection opened.
"""

from __future__ import annotations

import asyncio
import json as _json
import ssl
import urllib.request
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["Http1Client", "Http1Response", "unsupported"]

_MAX_HEAD = 64 * 1024


def unsupported(url: str) -> str | None:
    """Why ``url`` cannot be sent by this client (``None`` when it can): a scheme other than
    http/https, or a proxy from the environment that httpx would use."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not http or https"
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if proxy and not bypass(parts.hostname or ""):
        return f"a proxy is set in the environment ({parts.scheme}_proxy)"
    return None


class _Conn(asyncio.Protocol):
    """One connection: bytes received are buffered; readers wait on one future at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    async def _more(self) -> None:
        if self.closed:
            raise httpx.RemoteProtocolError(
                "the server closed the connection" + (f" ({self.error})" if self.error else "")
            )
        self._waiter = self.loop.create_future()
        await self._waiter

    async def read_until(self, sep: bytes, limit: int = _MAX_HEAD) -> bytes:
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                end = i + len(sep)
                out = bytes(self.buf[:end])
                del self.buf[:end]
                return out
            if len(self.buf) > limit:
                raise httpx.RemoteProtocolError(f"no {sep!r} within {limit} bytes")
            start = max(len(self.buf) - len(sep) + 1, 0)
            await self._more()

    async def read_exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            await self._more()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def read_some(self) -> bytes:
        """What is buffered, waiting for something first; ``b""`` at the connection's end."""
        if not self.buf:
            if self.closed:
                return b""
            self._waiter = self.loop.create_future()
            await self._waiter
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Origin:
    """Where a URL sends to, and the request head's fixed part for that URL."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.key = (parts.scheme, self.host, self.port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = parts.port is None
        host_header = self.host if default else f"{self.host}:{self.port}"
        if ":" in self.host:  # IPv6 literal
            host_header = f"[{self.host}]" + ("" if default else f":{self.port}")
        lines = [f"POST {target} HTTP/1.1", f"Host: {host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines += ["Content-Type: application/json", "Content-Length: "]
        self.head = "\r\n".join(lines).encode("latin-1")


class Http1Response:
    """An answer being read: status and headers at once, the body on demand."""

    def __init__(
        self,
        client: Http1Client,
        conn: _Conn,
        origin: _Origin,
        status: int,
        headers: dict[str, str],
    ) -> None:
        self._client = client
        self._conn = conn
        self._origin = origin
        self.status_code = status
        self.headers = headers
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._left = int(length) if length is not None and not self._chunked else None
        self._keep = headers.get("connection", "").lower() != "close"
        if status in (204, 304) or 100 <= status < 200:
            self._left = 0
        if not self._chunked and self._left is None:
            self._keep = False  # the body ends with the connection
        self._done = self._left == 0
        self._chunk_left = 0
        self.content = b""

    async def _next(self) -> bytes:
        """The body's next piece (``b""`` once it is all read)."""
        if self._done:
            return b""
        try:
            return await self._read_next()
        except httpx.RemoteProtocolError as e:
            if not self._conn.closed:
                raise
            how = "incomplete chunked read" if self._chunked else f"{self._left} bytes short"
            raise httpx.RemoteProtocolError(
                f"peer closed connection without sending complete message body ({how})"
            ) from e

    async def _read_next(self) -> bytes:
        conn = self._conn
        if self._chunked:
            if self._chunk_left == 0:
                line = await conn.read_until(b"\r\n")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise httpx.RemoteProtocolError(f"bad chunk size {line[:40]!r}") from None
                if size == 0:
                    while (await conn.read_until(b"\r\n")) != b"\r\n":  # trailers
                        pass
                    self._done = True
                    return b""
                self._chunk_left = size
            data = await self._take(self._chunk_left)
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                await conn.read_exactly(2)
            return data
        if self._left is not None:
            data = await self._take(self._left)
            self._left -= len(data)
            self._done = self._left == 0
            return data
        data = await conn.read_some()
        if not data:
            self._done = True
        return data

    async def _take(self, most: int) -> bytes:
        """Up to ``most`` bytes of the body: what is buffered, else the next that arrive."""
        buf = self._conn.buf
        while not buf:  # raises at the connection's end
            await self._conn._more()
        data = bytes(buf[:most])
        del buf[:most]
        return data

    async def aread(self) -> bytes:
        parts = [self.content]
        while piece := await self._next():
            parts.append(piece)
        self.content = b"".join(parts)
        return self.content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return _json.loads(self.content)

    async def aiter_lines(self) -> AsyncIterator[str]:
        """The body's lines as they arrive (without their ``\\n``; a ``\\r`` before it kept)."""
        rest = b""
        while piece := await self._next():
            rest += piece
            *lines, rest = rest.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace")
        if rest:
            yield rest.decode("utf-8", "replace")

    def _finish(self) -> None:
        """Give the connection back when its answer was read to the end (a stream left after
        ``[DONE]`` counts when its end is already received), else close it."""
        ended = self._chunked and self._chunk_left == 0 and self._conn.buf == b"0\r\n\r\n"
        if not self._done and ended:
            self._conn.buf.clear()
            self._done = True
        self._client._release(self._origin, self._conn, self._done and self._keep)


class _Stream:
    """``async with client.stream(...) as resp``: the request's deadline covers the block."""

    def __init__(self, client: Http1Client, url: str, body: bytes, timeout: float) -> None:
        self._client, self._url, self._body = client, url, body
        self._timeout = asyncio.timeout(timeout)
        self._resp: Http1Response | None = None

    async def __aenter__(self) -> Http1Response:
        await self._timeout.__aenter__()
        try:
            self._resp = await self._client._send(self._url, self._body)
        except BaseException as e:
            await self._exit(type(e), e, e.__traceback__)
            raise
        return self._resp

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._resp is not None:
            if e is None:
                self._resp._finish()
            else:
                self._client._release(self._resp._origin, self._resp._conn, False)
        await self._exit(et, e, tb)

    async def _exit(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._timeout.__aexit__(et, e, tb)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out") from None


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status and the headers (names lower-cased) of an answer's head."""
    lines = head[:-4].decode("latin-1").split("\r\n")
    try:
        version, status = lines[0].split(" ", 2)[:2]
        code = int(status)
    except (IndexError, ValueError):
        raise httpx.RemoteProtocolError(f"bad status line {lines[0][:80]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
        headers["connection"] = "close"  # HTTP/1.0 closes unless it says otherwise
    return code, headers


class Http1Client:
    """POSTs JSON to http(s) URLs over keep-alive connections (one pool per origin).

    Args:
        headers: sent with every request (an ``Authorization`` header, say).
        max_connections: the most idle connections kept per origin (requests beyond it still
            go out, on connections closed after their answer).
    """

    def __init__(self, headers: dict[str, str], max_connections: int) -> None:
        self._headers = {"Accept": "*/*", "User-Agent": "assay-load", **headers}
        self._max = max(int(max_connections), 1)
        self._origins: dict[str, _Origin] = {}
        self._idle: dict[tuple[str, str, int], list[_Conn]] = {}
        self._ssl: ssl.SSLContext | None = None
        self.connections_opened = 0
        self.stale_retries = 0

    def _origin(self, url: str) -> _Origin:
        o = self._origins.get(url)
        if o is None:
            o = self._origins[url] = _Origin(url, self._headers)
        return o

    async def _connect(self, origin: _Origin) -> _Conn:
        loop = asyncio.get_running_loop()
        ctx = None
        if origin.https:
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            ctx = self._ssl
        try:
            _, conn = await loop.create_connection(
                lambda: _Conn(loop), origin.host, origin.port, ssl=ctx
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {origin.host}:{origin.port}") from None
        except OSError as e:
            raise httpx.ConnectError(str(e) or type(e).__name__) from e
        self.connections_opened += 1
        return conn

    def _release(self, origin: _Origin, conn: _Conn, reusable: bool) -> None:
        idle = self._idle.setdefault(origin.key, [])
        if reusable and not conn.closed and not conn.buf and len(idle) < self._max:
            idle.append(conn)
        else:
            conn.close()

    async def _send(self, url: str, body: bytes) -> Http1Response:
        origin = self._origin(url)
        idle = self._idle.get(origin.key)
        message = b"".join((origin.head, str(len(body)).encode(), b"\r\n\r\n", body))
        while True:
            conn: _Conn | None = None
            while idle:
                c = idle.pop()
                if c.closed or c.buf:  # closed (or said something) while idle
                    c.close()
                    self.stale_retries += 1
                    continue
                conn = c
                break
            reused = conn is not None
            if conn is None:
                conn = await self._connect(origin)
            assert conn.transport is not None
            conn.transport.write(message)
            try:
                head = await conn.read_until(b"\r\n\r\n")
            except httpx.RemoteProtocolError:
                conn.close()
                if reused and not conn.buf:  # the server dropped it just as we sent
                    self.stale_retries += 1
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            break
        try:
            status, headers = _parse_head(head)
            while 100 <= status < 200:  # an interim answer (103 Early Hints): the real one follows
                status, headers = _parse_head(await conn.read_until(b"\r\n\r\n"))
        except BaseException:
            conn.close()
            raise
        return Http1Response(self, conn, origin, status, headers)

    async def post(self, url: str, *, json: Any, timeout: float) -> Http1Response:
        """Send ``json`` and read the whole answer, all within ``timeout`` seconds."""
        body = _json.dumps(json).encode()
        resp: Http1Response | None = None
        try:
            async with asyncio.timeout(timeout):
                resp = await self._send(url, body)
                await resp.aread()
        except TimeoutError:
            if resp is not None:
                self._release(resp._origin, resp._conn, False)
            raise httpx.ReadTimeout(f"no complete answer within {timeout:g}s") from None
        except BaseException:
            if resp is not None:
                self._release(resp._origin, resp._conn, False)
            raise
        resp._finish()
        return resp

    def stream(self, method: str, url: str, *, json: Any, timeout: float) -> _Stream:
        """``async with client.stream("POST", url, json=..., timeout=...) as resp``: the head
        read at entry, the body read by the block, all within ``timeout`` seconds."""
        if method != "POST":
            raise ValueError("Http1Client sends POST only")
        return _Stream(self, url, _json.dumps(json).encode(), timeout)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for c in idle:
                c.close()
            idle.clear()
