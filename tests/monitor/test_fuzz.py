"""A schemathesis fuzz of the monitor's whole OpenAPI schema, against a real server on each
database: no request it generates gets a 500 (``not_a_server_error``). Bounded: 15 examples per
operation and phase, a fixed seed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from _monitor_parts import TOKENS, start_server

from assay.monitor._store import Store

pytest.importorskip("schemathesis")


def _st() -> list[str]:
    found = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    if not Path(found).is_file():
        pytest.skip("schemathesis's st command is not installed")
    return [found]


@pytest.mark.slow
def test_the_whole_api_survives_a_fuzz(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    store.migrate()  # one window, so that the window endpoints reach past their 404
    t = datetime(2026, 12, 7, 10, tzinfo=timezone.utc)
    report = json.dumps(
        {
            "assay_version": "0",
            "suite_name": "s",
            "suite": {},
            "created_at": t.isoformat(),
            "duration_s": 0,
            "seed": 0,
            "level": 0.95,
            "datasets": [],
            "models": [],
            "environment": {},
        }
    )
    store.save_window("w", t, t, 0, 0, None, {}, report)
    store.close()
    server = start_server(tmp_path, db_url)
    try:
        auth = f"Authorization: Bearer {TOKENS['admin']}"
        schema = httpx.get(f"{server.url}/openapi.json", headers=dict([auth.split(": ")])).json()
        (tmp_path / "openapi.json").write_text(json.dumps(schema))
        run = subprocess.run(
            [
                *_st(),
                "run",
                str(tmp_path / "openapi.json"),
                "--url",
                server.url,
                "-H",
                auth,
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "15",
                "--seed",
                "1",
                "--request-timeout",
                "20",
                "--report",
                "junit",
                "--report-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        log = server.output()
        assert "Traceback" not in log
        assert '"POST /v1/events HTTP/1.1" 200' in log  # valid batches got through, too
        assert server.proc.poll() is None  # no crash
    finally:
        server.stop()
