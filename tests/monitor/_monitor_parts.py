"""Helpers for the monitor's tests (the fixtures are in conftest.py): events, tokens, a handle on
a PostgreSQL server, and the monitor served by uvicorn in a subprocess (``assay monitor serve``)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

PG_BIN = Path(os.environ.get("ASSAY_TEST_PG_BIN", "/usr/local/bin"))
TOKENS = {"ingest": "tok-ingest-5f1c9a", "read": "tok-read-77d2e0", "admin": "tok-admin-c3b8a4"}
SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_tool(name: str) -> str | None:
    """``initdb`` or ``pg_ctl``: in ASSAY_TEST_PG_BIN (default /usr/local/bin), on PATH, or where
    Debian's postgresql package puts them."""
    found = PG_BIN / name
    if found.is_file():
        return str(found)
    debian = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return shutil.which(name) or (str(debian[-1]) if debian else None)


@dataclass
class Postgres:
    """A PostgreSQL server of the test session; :meth:`new_url` makes an empty database."""

    port: int
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def new_url(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(self.counter)}"
        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def event(i: int | str, **over: Any) -> dict[str, Any]:
    """One valid event as JSON."""
    body: dict[str, Any] = {
        "event_id": f"e-{i}",
        "timestamp": "2026-12-07T10:00:00Z",
        "model_version": "v1",
        "inputs": {"AGEP": 35, "SCHL": 21, "text": "a secret-ish input"},
        "prediction": "1",
        "probabilities": {"0": 0.3, "1": 0.7},
        "groups": {"sex": "female"},
        "latency_ms": 12.5,
    }
    body.update(over)
    return body


def write_tokens(folder: Path) -> Path:
    path = folder / "tokens.yaml"
    lines = ["tokens:"]
    for scope, token in TOKENS.items():
        lines += [f"  - name: {scope}", f"    token: {token}", f"    scopes: [{scope}]"]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Server:
    """``assay monitor serve`` in a subprocess; its stdout and stderr go to ``log``."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self, scope: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {TOKENS[scope]}"} if scope else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    folder: Path,
    db: str,
    *,
    port: int | None = None,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    log_name: str = "server.log",
) -> Server:
    """Start the monitor on 127.0.0.1 and wait until ``/healthz`` answers."""
    folder.mkdir(parents=True, exist_ok=True)
    suite, reference = folder / "suite.yaml", folder / "reference.csv"
    if not suite.exists():
        reference.write_text("AGEP,SCHL,sex,prediction,label\n35,21,female,1,1\n50,16,male,0,0\n")
        suite.write_text(
            "data: {path: reference.csv, input: [AGEP, SCHL], label: label}\n"
            "models: {prod: 'predictions:reference.csv'}\n"
        )
    tokens = folder / "tokens.yaml"
    if not tokens.exists():
        write_tokens(folder)
    port = port or free_port()
    log = folder / log_name
    cmd = [
        sys.executable,
        "-m",
        "assay",
        "monitor",
        "serve",
        "--suite",
        str(suite),
        "--reference",
        str(reference),
        "--db",
        db,
        "--port",
        str(port),
        "--tokens",
        str(tokens),
        *(extra or []),
    ]
    full_env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "ASSAY_MONITOR_LOG_LEVEL": "debug",
        **(env or {}),
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the monitor exited with {proc.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return Server(url, proc, log)
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the monitor did not answer /healthz in 60 s:\n{log.read_text()}")


class Receiver:
    """A webhook receiver: ``script`` says what each request gets (``500``, ``503:<retry
    after>``, ``hang:<seconds>``, then ``200`` for the rest); bodies answered 200 are kept."""

    def __init__(self, script: list[str] | None = None, port: int = 0) -> None:
        self.script = list(script or [])
        self.received: list[dict[str, Any]] = []
        self.attempts: list[tuple[float, str]] = []
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                step = outer.script.pop(0) if outer.script else "200"
                outer.attempts.append((time.monotonic(), step))
                if step.startswith("hang:"):
                    time.sleep(float(step.split(":")[1]))
                    step = "200"
                if step == "200":
                    outer.received.append(json.loads(body))
                    self.send_response(200)
                    self.end_headers()
                    return
                code, _, after = step.partition(":")
                self.send_response(int(code))
                if after:
                    self.send_header("Retry-After", after)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def wait_until(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


@contextmanager
def serve_in_thread(app: object) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
