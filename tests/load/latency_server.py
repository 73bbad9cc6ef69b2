"""A tiny OpenAI-compatible server on 127.0.0.1 whose latency the URL chooses (tests and bench).

A raw asyncio HTTP/1.1 server (keep-alive, chunked server-sent events), run as its own process
so the client under test does not share its interpreter: ``python latency_server.py`` prints
the port. The path before ``/v1`` picks the behaviour; each distinct prefix keeps its own state
(counters, stall clock), so a test puts a tag of its own first:

- ``/<tag>/trivial/v1``: answers at once (the benchmark's server);
- ``/<tag>/fixed/<ms>/v1``: each answer after ``ms``;
- ``/<tag>/lognormal/<median_ms>/<sigma>/<n>/<seed>/v1``: the i-th request waits the
  ``(k + 0.5) / n`` quantile of a lognormal (a seeded permutation of ``k = 0..n-1``), so the
  first ``n`` delays have *exactly* the distribution's quantiles — a heavy tail with known
  percentiles and no sampling error;
- ``/<tag>/stall/<at_ms>/<stall_ms>/<base_ms>/v1``: each answer after ``base_ms``, except that the
  server freezes from ``at_ms`` to ``at_ms + stall_ms`` after its first request on this prefix:
  nothing is answered during the freeze (wrk2's demonstration of coordinated omission);
- ``/<tag>/stream/<ttft_ms>/<itl_ms>/<tokens>/v1``: streamed (``"stream": true``) answers send
  the first token after ``ttft_ms`` and one more every ``itl_ms``; unstreamed ones answer after
  the whole time;
- ``/<tag>/errors/<every>/<ms>/v1``: every ``every``-th request gets a 500, the rest answer after
  ``ms``;
- ``/<tag>/hang/v1``: never answers within a minute (the client's timeout fires);
- ``/<tag>/chunked/v1``: answers at once, the JSON body sent chunked in 7-byte pieces, each
  written on its own;
- ``/<tag>/close/<every>/v1``: answers at once, and closes the connection after every
  ``every``-th answer on this prefix without saying so (no ``Connection: close``), as a server
  whose keep-alive timeout fires does;
- ``/<tag>/metered/<ms>/v1``: each answer after ``ms``, and ``/<tag>/metered/<ms>/metrics``
  exposes, in Prometheus text (a real ``prometheus_client`` registry), the histogram
  ``vllm:e2e_request_latency_seconds`` of the server's own service times (buckets 50, 100, 200,
  400, 800 ms), the gauge ``vllm:num_requests_running`` and the counter
  ``vllm:request_success_total``, as vLLM names them. ``/metrics`` under any other prefix is
  a 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any


@dataclass
class _State:
    count: int = 0
    first_s: float | None = None
    delays: list[float] = field(default_factory=list)
    metrics: Any = None  # (registry, histogram, gauge, counter) of a "metered" prefix


def _metrics(state: _State) -> Any:
    if state.metrics is None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        reg = CollectorRegistry()
        state.metrics = (
            reg,
            Histogram(
                "vllm:e2e_request_latency_seconds",
                "service time",
                buckets=(0.05, 0.1, 0.2, 0.4, 0.8),
                registry=reg,
            ),
            Gauge("vllm:num_requests_running", "in flight", registry=reg),
            Counter("vllm:request_success", "answered", registry=reg),
        )
    return state.metrics


_STATES: dict[str, _State] = {}


def _answer_json(text: str = "ok") -> bytes:
    return json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    ).encode()


async def _respond(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Error")
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()


async def _stream(
    writer: asyncio.StreamWriter, t0: float, ttft: float, itl: float, tokens: int, usage: bool
) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )

    def chunk(payload: str) -> None:
        data = f"data: {payload}\n\n".encode()
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    for k in range(tokens):
        await asyncio.sleep(max(t0 + ttft + k * itl - time.perf_counter(), 0.0))
        finish = "length" if k == tokens - 1 else None
        delta = {"choices": [{"index": 0, "delta": {"content": f"t{k} "}, "finish_reason": finish}]}
        chunk(json.dumps(delta))
        await writer.drain()
    if usage:
        chunk(
            json.dumps({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": tokens}})
        )
    chunk("[DONE]")
    writer.write(b"0\r\n\r\n")
    await writer.drain()


async def _handle(path: str, body: bytes, writer: asyncio.StreamWriter) -> None:
    t0 = time.perf_counter()
    if path.endswith("/metrics"):
        prefix = path.removesuffix("/metrics")
        if prefix.strip("/").split("/")[1:2] != ["metered"]:
            await _respond(writer, 404, b'{"error": "no such path"}')
            return
        from prometheus_client import generate_latest

        await _respond(
            writer, 200, generate_latest(_metrics(_STATES.setdefault(prefix, _State()))[0])
        )
        return
    prefix, _, _ = path.partition("/v1/")
    parts = prefix.strip("/").split("/")
    kind, args = (parts[1], parts[2:]) if len(parts) > 1 else ("trivial", [])
    state = _STATES.setdefault(prefix, _State())
    state.count += 1
    if state.first_s is None:
        state.first_s = t0
    delay = 0.0
    if kind == "fixed":
        delay = float(args[0]) / 1000
    elif kind == "lognormal":
        median, sigma, n, seed = float(args[0]) / 1000, float(args[1]), int(args[2]), int(args[3])
        if not state.delays:
            z = [NormalDist().inv_cdf((k + 0.5) / n) for k in range(n)]
            state.delays = [median * math.exp(sigma * v) for v in z]
            random.Random(seed).shuffle(state.delays)
        delay = state.delays[(state.count - 1) % n]
    elif kind == "stall":
        at, stall, base = (float(a) / 1000 for a in args[:3])
        start = state.first_s + at
        delay = base
        if t0 + base > start and t0 < start + stall:
            delay = max(base, start + stall - t0)
    elif kind == "errors":
        if state.count % int(args[0]) == 0:
            await _respond(writer, 500, b'{"error": "scripted failure"}')
            return
        delay = float(args[1]) / 1000
    elif kind == "metered":
        _, hist, running, success = _metrics(state)
        running.inc()
        await asyncio.sleep(max(t0 + float(args[0]) / 1000 - time.perf_counter(), 0.0))
        hist.observe(time.perf_counter() - t0)
        running.dec()
        success.inc()
        await _respond(writer, 200, _answer_json())
        return
    elif kind == "hang":
        delay = 60.0
    elif kind == "chunked":
        body = _answer_json()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        for k in range(0, len(body), 7):
            piece = body[k : k + 7]
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return
    elif kind == "close":
        await _respond(writer, 200, _answer_json())
        if state.count % int(args[0]) == 0:
            writer.close()
        return
    elif kind == "stream":
        ttft, itl, tokens = float(args[0]) / 1000, float(args[1]) / 1000, int(args[2])
        request = json.loads(body or b"{}")
        if request.get("stream"):
            usage = bool((request.get("stream_options") or {}).get("include_usage"))
            await _stream(writer, t0, ttft, itl, tokens, usage)
            return
        delay = ttft + itl * (tokens - 1)
    if delay:
        await asyncio.sleep(max(t0 + delay - time.perf_counter(), 0.0))
    await _respond(writer, 200, _answer_json())


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            _, path, _ = line.decode("latin-1").split(" ", 2)
            length = 0
            while True:
                header = await reader.readline()
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            await _handle(path, body, writer)
            if writer.is_closing():
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


@contextlib.contextmanager
def serve(tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """Start the server in its own process; yield ``http://127.0.0.1:<port>``; stop it. With
    ``tls`` (a certificate and its key, PEM files) it speaks https."""
    extra = [str(p) for p in tls] if tls else []
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *extra], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


async def _main() -> None:
    ctx = None
    if len(sys.argv) == 3:  # certificate and key: https
        import ssl

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    server = await asyncio.start_server(_connection, "127.0.0.1", 0, backlog=1024, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_main())
