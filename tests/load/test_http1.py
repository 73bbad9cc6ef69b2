"""The load generator's HTTP/1.1 client (``assay.models._http1``) against real servers on
127.0.0.1: the raw latency server (tests/load/latency_server.py) for framing and keep-alive, and
the FastAPI/uvicorn LM server (tests/lm_server.py) for the openai: adapter's answers, faults and
streams, compared one by one with what the same adapter gives over httpx."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assay._runner._load import run_load
from assay.errors import ModelError
from assay.load import LoadPlan
from assay.models import load_model
from assay.models._http1 import Http1Client, unsupported
from assay.models._openai import OpenAIModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency_server import _answer_json, serve


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve() as url:
        yield url


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_length_and_chunked_answers_parse_on_one_kept_connection(base: str) -> None:
    async def go() -> tuple[list[Any], int]:
        client = Http1Client({}, 4)
        got = []
        for kind in ("trivial", "chunked", "trivial", "chunked"):
            resp = await client.post(f"{base}/h1/{kind}/v1/chat/completions", json={}, timeout=5)
            got.append((resp.status_code, resp.json()))
        await client.aclose()
        return got, client.connections_opened

    got, opened = _run(go())
    want = json.loads(_answer_json())
    assert got == [(200, want)] * 4
    assert opened == 1  # both framings leave the connection reusable


def test_sse_lines_arrive_one_event_at_a_time(base: str) -> None:
    async def go() -> list[str]:
        client = Http1Client({}, 1)
        body = {"stream": True, "stream_options": {"include_usage": True}}
        url = f"{base}/h1s/stream/0/0/3/v1/chat/completions"
        async with client.stream("POST", url, json=body, timeout=5) as resp:
            assert resp.headers["content-type"] == "text/event-stream"
            lines = [line async for line in resp.aiter_lines()]
        await client.aclose()
        return lines

    lines = _run(go())
    data = [line for line in lines if line]
    assert len(data) == 5 and data[-1] == "data: [DONE]"  # 3 tokens, usage, [DONE]
    assert json.loads(data[3].removeprefix("data: "))["usage"]["completion_tokens"] == 3


def test_a_server_closing_kept_connections_mid_run_costs_no_request(base: str) -> None:
    # the server drops the connection after every 3rd answer, without a Connection: close
    model = load_model(f"openai:m@{base}/h1c/close/3/v1")
    report = run_load(
        model, ["x"], LoadPlan(concurrency=(4,), warmup_s=0, duration_s=0.5, max_requests=300)
    )
    step = report.steps[0]
    assert step.n_ok == step.n > 30 and step.n_error == 0
    assert isinstance(model, OpenAIModel)
    counts = model.fast_http_counts()
    assert counts is not None and counts["stale_retries"] > 0
    assert counts["connections_opened"] > step.n // 3 - 5  # one more every 3 answers
    assert any("keep-alive" in n for n in report.notes), report.notes


def test_a_proxy_in_the_environment_keeps_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert "proxy" in (unsupported("http://10.1.2.3:8000/v1") or "")
    model = load_model("openai:m@http://10.1.2.3:8000/v1")
    assert isinstance(model, OpenAIModel)
    model.event_loop(fast_http=True)
    assert model.fast_http_counts() is None and "proxy" in (model.fast_http_fallback or "")
    model.close()
    monkeypatch.setenv("no_proxy", "10.1.2.3")
    assert unsupported("http://10.1.2.3:8000/v1") is None


# -- the same adapter over both clients, against FastAPI/uvicorn ------------------------------

PROMPTS = [
    "SAY all good END",
    "SAY positive F500 END",
    "SAY positive F429 END",
    "SAY negative FJSON END",
    "SAY positive FDEAD END",
]
STREAM_PROMPTS = [
    "SAY streamed words here END",
    "SAY negative FCUT END",
    "SAY positive FINTR END",
    "SAY negative F500 END",
]


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("fastapi")
    pytest.importorskip("transformers")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from lm_fixtures import tiny_gpt2
    from lm_server import LMServer

    with LMServer(tiny_gpt2(tmp_path_factory.mktemp("tiny") / "gpt2")) as s:
        yield s


def _outcome(model: OpenAIModel, prompt: str) -> tuple[str, Any]:
    loop = model.event_loop()
    try:
        out = asyncio.run_coroutine_threadsafe(model.send_once(prompt), loop).result()
    except Exception as e:
        return type(e).__name__, str(e)
    t = out.timings or {}
    return "ok", (out.text, out.finish_reason, out.usage, sorted(t))


@pytest.mark.parametrize("stream", [False, True])
def test_fast_client_answers_as_httpx_does(lm: Any, stream: bool) -> None:
    results = {}
    for fast in (False, True):
        # each client gets its own copy of the prompts: the server's faults fire once per prompt
        model = load_model(f"openai:tiny@{lm.url}", options={"stream": stream, "timeout_s": 5})
        assert isinstance(model, OpenAIModel)
        model.event_loop(fast_http=fast)
        assert (model.fast_http_counts() is not None) is fast
        prompts = STREAM_PROMPTS if stream else PROMPTS
        results[fast] = [_outcome(model, p.replace(" END", f" {fast} END")) for p in prompts]
        model.close()
    slow, fast_ = results[False], results[True]
    for a, b in zip(slow, fast_, strict=True):
        assert a[0] == b[0], (a, b)
        if a[0] == "ok":  # answers differ only by the tag in the prompt
            assert a[1][1:] == b[1][1:]
            assert a[1][0].replace("False", "True") == b[1][0]
        else:
            assert a[1].replace("False", "True") == b[1]
    kinds = [r[0] for r in fast_]
    assert "ok" in kinds and "RetryableModelError" in kinds
    if stream:
        ok = fast_[0][1]
        assert {"ttft_s", "itl_s", "tpot_s"} <= set(ok[3])


def test_https_with_a_trusted_certificate_and_not_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not shutil.which("openssl"):
        pytest.skip("no openssl to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with serve(tls=(cert, key)) as url:
        assert url.startswith("https://")
        plan = LoadPlan(concurrency=(2,), warmup_s=0, duration_s=0.3, max_requests=40)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted, as httpx would read it
        model = load_model(f"openai:m@{url}/tls/chunked/v1")
        step = run_load(model, ["x"], plan).steps[0]
        assert step.n_ok == step.n >= 40
        assert isinstance(model, OpenAIModel) and model.fast_http_counts() is not None
        monkeypatch.delenv("SSL_CERT_FILE")  # a self-signed certificate nobody trusts
        with pytest.raises(ModelError, match="CERTIFICATE_VERIFY_FAILED"):
            run_load(load_model(f"openai:m@{url}/tls2/trivial/v1"), ["x"], plan)


def test_interim_answers_are_skipped_and_http_1_0_closes() -> None:
    answer = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    )

    async def go() -> tuple[list[Any], int]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    await reader.readexactly(length)
                    writer.write(answer)
                    await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = Http1Client({}, 2)
        got = []
        for _ in range(2):
            resp = await client.post(f"http://127.0.0.1:{port}/v1/x", json={}, timeout=5)
            got.append((resp.status_code, resp.json()))
        await client.aclose()
        await asyncio.sleep(0.1)  # the server's handlers see the connections end
        server.close()
        await server.wait_closed()
        return got, client.connections_opened

    got, opened = _run(go())
    assert got == [(200, {})] * 2
    assert opened == 2  # an HTTP/1.0 answer without keep-alive is not reused
