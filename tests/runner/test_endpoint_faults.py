"""The endpoint fault matrix: ``assay run`` against a real OpenAI-compatible server on 127.0.0.1
(tests/lm_server.py) that misbehaves in every way a served model does.

Each case gives the exit code, the words the console must show (the cause, and for a cause that
retrying cannot fix, the fix), the retries the report counts — every request the server saw beyond
the first per prompt — and a bound of 1 + retries on the requests per prompt. Small retry
backoffs keep the whole matrix to seconds.
"""

from __future__ import annotations

import csv
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("transformers")

from typer.testing import CliRunner

from assay._cli.main import app
from lm_fixtures import tiny_gpt2
from lm_server import LMServer

pytestmark = pytest.mark.slow

RETRIES = 2
N_ROWS = 4
TIMEOUT_S = 0.4
KEY = "sk-matrix-right-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LMServer]:
    model_dir = tiny_gpt2(tmp_path_factory.mktemp("tiny") / "gpt2")
    with LMServer(model_dir, slow_s=1.2) as s:
        # the model's first forward pass is slow (torch warms up): made here, it cannot push a
        # case's first request past TIMEOUT_S into an extra retry
        s.generate("warm up", 4)
        yield s


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound by no listener: connecting to it is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@dataclass(frozen=True)
class Case:
    name: str
    #: put into every prompt: the server's per-prompt fault keyword
    keyword: str = ""
    exit_code: int = 0
    console: tuple[str, ...] = ()
    #: requests the server sees per prompt (None: not checked, the server never sees them)
    calls_per_prompt: int | None = 1
    url: str = "{server}"
    options: dict[str, Any] = field(default_factory=dict)
    #: sets a server-wide fault before the run (undone after)
    setup: Callable[[LMServer], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: the run must end within this many seconds
    within_s: float = 10.0


def _require_key(s: LMServer) -> None:
    s.require_key = KEY


def _fail_all(status: int) -> Callable[[LMServer], None]:
    def setup(s: LMServer) -> None:
        s.fail_all = status

    return setup


def _die_and_come_back(s: LMServer) -> None:
    s.die_after(2, down_s=0.3)


CASES = [
    Case(
        "401 wrong key",
        setup=_require_key,
        env={"MATRIX_KEY": "sk-wrong"},
        exit_code=2,
        console=("HTTP 401", "stopped early", "check the API key: MATRIX_KEY is set"),
    ),
    Case(
        "401 missing key",
        setup=_require_key,
        exit_code=2,
        console=("HTTP 401", "MATRIX_KEY is not set", "options.api_key_env"),
    ),
    Case(
        "403 forbidden",
        setup=_fail_all(403),
        env={"MATRIX_KEY": KEY},
        exit_code=2,
        console=("HTTP 403", "stopped early", "check the API key"),
    ),
    Case(
        "404 wrong base url",
        url="{server_root}/nope/v1",
        exit_code=2,
        console=("HTTP 404", "stopped early", "check the model name 'tiny' and the base URL"),
        calls_per_prompt=None,  # the route does not exist: the prompt is never read
    ),
    Case(
        "connection refused",
        url="http://127.0.0.1:{closed_port}/v1",
        exit_code=2,
        console=("connection refused", "is the server running at http://127.0.0.1:"),
        calls_per_prompt=None,
        within_s=3.0,
    ),
    Case(
        "DNS failure",
        url="http://assay-matrix.invalid/v1",
        exit_code=2,
        console=("DNS lookup failed", "check the host name in the base URL"),
        calls_per_prompt=None,
        # how long one failed lookup takes is the resolver's business (seen here: up to 5 s);
        # the run must still stop after the first calls, not after every row's retries
        within_s=60.0,
    ),
    Case("429 with Retry-After", keyword="F429", calls_per_prompt=3),
    Case("429 without Retry-After", keyword="F429N", calls_per_prompt=3),
    Case("500 once", keyword="F500", calls_per_prompt=2),
    Case(
        "500 always",
        keyword="FDEAD",
        exit_code=2,
        console=("HTTP 500", f"gave up after {RETRIES} retries", "4 of 4 calls failed"),
        calls_per_prompt=1 + RETRIES,
    ),
    Case("timeout", keyword="FSLOW", calls_per_prompt=2),
    Case(
        "malformed JSON",
        keyword="FJSON",
        exit_code=2,
        console=("malformed JSON", f"gave up after {RETRIES} retries"),
        calls_per_prompt=1 + RETRIES,
    ),
    Case("cut stream", keyword="FCUT", options={"stream": True}, calls_per_prompt=2),
    Case(
        "server dies and comes back",
        setup=_die_and_come_back,
        options={"retries": 5, "backoff_s": 0.2},
        calls_per_prompt=None,  # requests refused while it is down never reach it
    ),
]


def _suite(tmp_path: Path, case: Case, url: str) -> tuple[Path, list[str]]:
    tag = case.name.replace(" ", "-")
    prompts = [
        f"SAY {'positive' if i % 2 else 'negative'} {case.keyword} {tag} r{i} END"
        for i in range(N_ROWS)
    ]
    with (tmp_path / "data.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label"])
        w.writerows(
            [(f"r{i}", p, "positive" if i % 2 else "negative") for i, p in enumerate(prompts)]
        )
    suite = {
        "data": {"path": "data.csv", "id": "id", "input": "text", "label": "label"},
        "models": {
            "candidate": {
                "spec": f"openai:tiny@{url}",
                "options": {
                    "verbaliser": {"positive": "positive", "negative": "negative"},
                    "api_key_env": "MATRIX_KEY",
                    **case.options,
                },
            }
        },
        "engine": {
            "cache": "cache.db",
            "retries": RETRIES,
            "backoff_s": 0.01,
            "timeout_s": TIMEOUT_S,
            # a server that is down comes back within the retries of one call
            "batch_size": 1 if case.setup is _die_and_come_back else N_ROWS,
            "progress": False,
        },
        "checks": {"performance": {"n_bootstrap": 20}},
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path, prompts


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_endpoint_fault(
    case: Case,
    server: LMServer,
    closed_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MATRIX_KEY", raising=False)
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    url = case.url.format(
        server=server.url,
        server_root=server.url.removesuffix("/v1"),
        closed_port=closed_port,
    )
    suite, prompts = _suite(tmp_path, case, url)
    out = tmp_path / "out"
    if case.setup is not None:
        case.setup(server)
    try:
        t0 = time.perf_counter()
        res = CliRunner().invoke(app, ["run", str(suite), "--out", str(out), "--quiet"])
        took = time.perf_counter() - t0
    finally:
        server.reset_faults()
    console = " ".join(res.output.split())  # the console wraps long lines

    assert res.exit_code == case.exit_code, res.output
    for words in case.console:
        assert words in console, (words, res.output)
    assert KEY not in res.output
    assert took < case.within_s, f"{case.name} took {took:.1f} s"
    seen = [server.calls[p] for p in prompts]
    if case.calls_per_prompt is not None:
        assert seen == [case.calls_per_prompt] * N_ROWS
    retries = case.options.get("retries", RETRIES)
    assert all(n <= 1 + retries for n in seen)

    if case.exit_code == 2:
        # a failed run leaves no report that a CI step could read as this run's result
        assert not (out / "report.json").exists()
        return
    report = json.loads((out / "report.json").read_text())
    perf = next(r for r in report["results"] if r["check"] == "performance")
    assert perf["n"] == N_ROWS and perf["errors"]["n_errors"] == 0
    if case.calls_per_prompt is not None:
        # every request beyond the first per prompt is a retry, and the report counts each one
        assert report["engine"]["n_retries"] == sum(seen) - N_ROWS > 0
    else:
        assert report["engine"]["n_retries"] >= 1 and server.n_restarts >= 1
    assert f"{report['engine']['n_retries']} retries" in console
