"""assay's engine + openai: adapter vs a bare asyncio + httpx loop, against a loopback server.

The server (uvicorn, in a subprocess so it does not share our GIL) answers every
``/v1/chat/completions`` after a fixed 20 ms. Both clients keep 32 requests in flight; the ratio of
throughputs is printed. Target: assay ≥ 90% of the bare loop.

    python benchmarks/bench_engine_http.py [--n 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

SERVER = textwrap.dedent(
    """
    import asyncio, json, sys
    import uvicorn
    BODY = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}).encode()
    async def app(scope, receive, send):  # a bare ASGI app: the server should cost little CPU
        if scope["type"] != "http":
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await asyncio.sleep(0.02)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": BODY})
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", lifespan="off")
    """
)


def _port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def bare(url: str, n: int, concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(i: int) -> None:
            async with sem:
                body = {"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]}
                r = await client.post(f"{url}/chat/completions", json=body)
                r.json()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t0)


def engine(url: str, n: int, concurrency: int, tag: str) -> float:
    from assay.config import EngineSettings
    from assay.engine import Engine, Request, content_key
    from assay.models import load_model

    model = load_model(f"openai:m@{url}", options={"concurrency": concurrency})
    fp = model.info().fingerprint
    reqs = [Request(content_key(fp, f"{tag}{i}"), "m", f"{tag}{i}") for i in range(n)]
    # Batches of 8 x concurrency, two in flight: the adapter's semaphore keeps `concurrency`
    # requests on the wire while the next batch is being handed over.
    settings = EngineSettings(cache=None, batch_size=8 * concurrency, concurrency=2, progress=False)
    eng = Engine(settings, cache_path=None, progress=False)
    t0 = time.perf_counter()
    answers = eng.run(reqs, {"m": model})
    rate = n / (time.perf_counter() - t0)
    assert all(a.ok for a in answers.values()), "some requests failed"
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    port = _port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=os.environ.copy())
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(200):
            try:
                httpx.post(f"{url}/chat/completions", json={}, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        # warm both paths, then alternate to share any drift
        asyncio.run(bare(url, 200, args.concurrency))
        engine(url, 200, args.concurrency, "warm")
        b1 = asyncio.run(bare(url, args.n, args.concurrency))
        e1 = engine(url, args.n, args.concurrency, "a")
        b2 = asyncio.run(bare(url, args.n, args.concurrency))
        e2 = engine(url, args.n, args.concurrency, "b")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    b, e = (b1 + b2) / 2, (e1 + e2) / 2
    ideal = args.concurrency / 0.02
    print(f"loopback server, 20 ms per answer, concurrency {args.concurrency}, n={args.n}")
    print(f"  ideal                 {ideal:8.0f} req/s")
    print(f"  bare asyncio + httpx  {b:8.0f} req/s")
    print(f"  assay engine + openai {e:8.0f} req/s")
    print(f"  ratio assay / bare    {e / b:8.2f}  (target >= 0.90)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
