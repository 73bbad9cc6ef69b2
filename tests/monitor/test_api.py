"""The monitor's API through a real uvicorn server on 127.0.0.1 (``assay monitor serve`` in a
subprocess, SQLite): the auth matrix on every endpoint, limits, validation, the login cookie, the
window report, metrics, and a log that never holds a token or an input.

The tests of this module share one server, and the last one reads its whole log."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _monitor_parts import TOKENS, Server, event, start_server

from assay.monitor._store import Store
from assay.report import Report

MARKER = "PII-MARKER-93ab"  # an input value that must never reach the log
OPEN = {("GET", "/healthz"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("api")
    srv = start_server(
        folder,
        f"sqlite:///{folder / 'monitor.db'}",
        env={"ASSAY_MONITOR_MAX_BATCH": "100", "ASSAY_MONITOR_MAX_BODY_BYTES": "65536"},
    )
    srv.db = f"sqlite:///{folder / 'monitor.db'}"  # type: ignore[attr-defined]
    yield srv
    srv.stop()


def _routes(server: Server) -> list[tuple[str, str, str]]:
    """(method, path, scope needed) for every documented operation, plus /docs and the schema."""
    with server.client("read") as c:
        schema = c.get("/openapi.json").json()
    routes = [("GET", "/docs", "read"), ("GET", "/openapi.json", "read")]
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            if (method.upper(), path) in OPEN:
                continue
            tags = op.get("tags", [])
            scope = "ingest" if "ingest" in tags else "admin" if "admin" in tags else "read"
            routes.append((method.upper(), path.replace("{window_id}", "1"), scope))
    return routes


def test_every_endpoint_refuses_no_token_a_wrong_token_and_a_wrong_scope(server: Server) -> None:
    routes = _routes(server)
    assert {r[:2] for r in routes} >= {
        ("POST", "/v1/events"),
        ("POST", "/v1/labels"),
        ("GET", "/v1/windows"),
        ("GET", "/v1/windows/1"),
        ("GET", "/v1/windows/1/report.html"),
        ("GET", "/v1/alerts"),
        ("GET", "/metrics"),
        ("POST", "/v1/admin/prune"),
    }
    seen = []
    with httpx.Client(base_url=server.url, timeout=30) as c:
        for method, path, scope in routes:
            kw: dict[str, Any] = {"json": {}} if method == "POST" else {}
            assert c.request(method, path, **kw).status_code == 401, (method, path)
            bad = {"Authorization": "Bearer " + TOKENS[scope][:-1] + "x"}
            assert c.request(method, path, headers=bad, **kw).status_code == 401, (method, path)
            basic = {"Authorization": "Basic " + TOKENS[scope]}
            assert c.request(method, path, headers=basic, **kw).status_code == 401, (method, path)
            for other in ("ingest", "read"):
                if other == scope:
                    continue
                head = {"Authorization": f"Bearer {TOKENS[other]}"}
                got = c.request(method, path, headers=head, **kw).status_code
                assert got == 403, (method, path, other, got)
            right = {"Authorization": f"Bearer {TOKENS[scope]}"}
            ok = c.request(method, path, headers=right, **kw).status_code
            admin = {"Authorization": f"Bearer {TOKENS['admin']}"}
            assert c.request(method, path, headers=admin, **kw).status_code == ok
            assert ok not in (401, 403), (method, path, ok)
            seen.append((method, path, ok))
        assert c.get("/healthz").json() == {"status": "ok"}
    assert len(seen) == len(routes)


def test_events_are_acknowledged_once_and_labels_wait_for_their_event(server: Server) -> None:
    batch = [event(i, inputs={"AGEP": 30 + i, "note": MARKER}) for i in range(50)]
    with server.client("ingest") as c:
        first = c.post("/v1/events", json={"events": batch})
        assert first.status_code == 200
        assert first.json() == {"n_received": 50, "n_new": 50, "n_duplicate": 0}
        again = c.post("/v1/events", json={"events": [*batch[40:], event(50)]}).json()
        assert again == {"n_received": 11, "n_new": 1, "n_duplicate": 10}
        shadow = c.post("/v1/events", json={"events": [event(1, model_version="cand")]}).json()
        assert shadow["n_new"] == 1
        labels = [{"event_id": "e-1", "label": "1"}, {"event_id": "late-1", "label": MARKER}]
        assert c.post("/v1/labels", json={"labels": labels}).json() == {
            "n_received": 2,
            "n_applied": 1,
            "n_pending": 1,
        }
    with server.client("read") as c:
        pending = c.get("/v1/labels/pending").json()
        assert (pending["n_pending"], pending["n_overdue"]) == (1, 0)
        assert pending["labels"][0]["event_id"] == "late-1"
        text = c.get("/metrics").text
    assert "assay_monitor_events_ingested_total 52.0" in text
    assert "assay_monitor_events_duplicate_total 10.0" in text
    assert "assay_monitor_labels_applied_total 1.0" in text
    assert "assay_monitor_labels_pending 1.0" in text
    assert "assay_monitor_events_stored 52.0" in text


def test_a_validation_error_names_the_field_and_does_not_echo_inputs(server: Server) -> None:
    batch = [event(1, inputs={"x": MARKER}), event(2, timestamp="yesterday", inputs={"x": MARKER})]
    with server.client("ingest") as c:
        r = c.post("/v1/events", json={"events": batch})
        assert r.status_code == 422
        (err,) = r.json()["detail"]
        assert err["loc"] == ["body", "events", 1, "timestamp"]
        assert MARKER not in r.text
        for bad, loc in [
            ({"events": [{**event(3), "event_id": ""}]}, ["body", "events", 0, "event_id"]),
            ({"events": [{**event(3), "latency_ms": -1}]}, ["body", "events", 0, "latency_ms"]),
            ({"events": [{**event(3), "extra": 1}]}, ["body", "events", 0, "extra"]),
            ({"events": []}, ["body", "events"]),
            ({"labels": [{"event_id": "a"}]}, ["body", "labels", 0, "label"]),
        ]:
            path = "/v1/labels" if "labels" in bad else "/v1/events"
            got = c.post(path, json=bad)
            assert got.status_code == 422 and got.json()["detail"][0]["loc"] == loc, got.text
        r = c.post("/v1/events", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422


def test_a_batch_over_the_limit_is_422_naming_the_limit(server: Server) -> None:
    with server.client("ingest") as c:
        r = c.post("/v1/events", json={"events": [event(i) for i in range(101)]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["ctx"]["max_length"] == 100


def test_a_body_over_the_limit_is_refused_before_it_is_read(server: Server) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKENS["ingest"].encode() + b"\r\n"
            b'Content-Length: 100000000\r\n\r\n{"events": ['
        )
        reply = s.recv(4096)  # answered although 99.99 MB of the body were never sent
    assert reply.startswith(b"HTTP/1.1 413")

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused once the chunks pass the limit
        yield b'{"events": ['
        for _ in range(100):
            yield b" " * 4096

    with server.client("ingest") as c:
        r = c.post("/v1/events", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_the_login_cookie_opens_read_pages_but_never_posts(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert c.get("/login").status_code == 200
        r = c.post("/login", data={"token": TOKENS["ingest"], "next": "/v1/windows"})
        assert r.status_code == 401 and "assay_monitor_token" not in r.headers.get("set-cookie", "")
        r = c.post("/login", data={"token": TOKENS["read"], "next": "https://evil.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/dashboard"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert c.get("/v1/windows").status_code == 200
        assert c.get("/docs").status_code == 200
        assert c.get("/metrics").status_code == 200
        assert c.post("/v1/events", json={"events": [event(900)]}).status_code == 401
        c.post("/logout")
        assert c.get("/v1/windows").status_code == 401
        # a browser without the cookie is sent to the form, and back to the page after it
        r = c.get("/dashboard", headers={"accept": "text/html,application/xhtml+xml"})
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/dashboard"


def _report() -> Report:
    return Report(
        assay_version="0.1.0",
        suite_name="monitor-window-test",
        suite={"name": "monitor-window-test"},
        created_at="2026-12-07T11:00:00+00:00",
        duration_s=0.5,
        seed=0,
        level=0.95,
        datasets=[],
        models=[],
        environment={},
    )


def test_a_window_is_listed_and_its_report_opens_as_json_and_html(server: Server) -> None:
    store = Store(server.db)  # type: ignore[attr-defined]
    summary = {"model_versions": ["v1"], "drift": {"share_drifted": 0.25, "n_drifted": 4}}
    from datetime import datetime, timezone

    start = datetime(2026, 12, 7, 10, tzinfo=timezone.utc)
    end = datetime(2026, 12, 7, 11, tzinfo=timezone.utc)
    report = _report()
    wid = store.save_window("w-10", start, end, 51, 1, False, summary, report.model_dump_json())
    store.save_alert("drift.share_drifted <= 0.2", "firing", window_id=wid, value=0.25)
    store.close()
    with server.client("read") as c:
        (row,) = [w for w in c.get("/v1/windows").json() if w["id"] == wid]
        assert row["drift"]["share_drifted"] == 0.25 and row["n_events"] == 51
        assert row["passed"] is False and row["start"].startswith("2026-12-07T10:00:00")
        assert Report.model_validate(c.get(f"/v1/windows/{wid}").json()) == report
        html = c.get(f"/v1/windows/{wid}/report.html")
        assert html.status_code == 200 and "monitor-window-test" in html.text
        assert c.get("/v1/windows/99999").status_code == 404
        (alert,) = c.get("/v1/alerts", params={"state": "firing"}).json()
        assert alert["gate"] == "drift.share_drifted <= 0.2" and alert["window_id"] == wid
        assert "assay_monitor_alerts_firing 1.0" in c.get("/metrics").text


def test_the_log_holds_no_token_and_no_input(server: Server) -> None:
    """Last in this module: everything above (ingest, 401/403/413/422, login) is in the log."""
    log = server.output()
    assert "POST /v1/events" in log  # the access log is there, at debug level
    for secret in [*TOKENS.values(), MARKER, "secret-ish", "Bearer"]:
        assert secret not in log, secret


def test_the_server_refuses_to_start_without_tokens(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no tokens"):
        (tmp_path / "tokens.yaml").write_text("tokens: []\n")
        start_server(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
