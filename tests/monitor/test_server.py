"""The server around the app: retention in the background and on demand, overdue pending labels,
and the ``on_ingest`` nudge (served by uvicorn on 127.0.0.1)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from _monitor_parts import TOKENS, event, serve_in_thread, start_server

from assay.monitor._app import create_app
from assay.monitor._config import MonitorSettings, TokenSet
from assay.monitor._schema import Event
from assay.monitor._server import open_store

NOW = datetime.now(timezone.utc)


def test_retention_prunes_old_raw_events_and_keeps_windows(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    store = open_store(MonitorSettings(db=db))
    old = [
        Event.model_validate(event(i, timestamp=(NOW - timedelta(days=3)).isoformat()))
        for i in range(5)
    ]
    new = [Event.model_validate(event(i + 5, timestamp=NOW.isoformat())) for i in range(5)]
    store.add_events(old + new)
    store.save_window("w", NOW - timedelta(days=3), NOW, 10, 0, None, {}, "{}")
    server = start_server(
        tmp_path,
        db,
        # windows of 1000 events: none closes here, so the one window is the test's own
        extra=["--retention", "1d", "--window-events", "1000"],
        env={"ASSAY_MONITOR_PENDING_LABEL_LIMIT": "1s"},
    )
    try:
        deadline = time.monotonic() + 30
        while store.count_events() != 5 and time.monotonic() < deadline:
            time.sleep(0.1)  # the pruner runs once at start, then every 1d/10
        assert sorted(e.event_id for e in store.events()) == [f"e-{i}" for i in range(5, 10)]
        assert len(store.windows()) == 1
        with server.client("admin") as c:
            assert c.post("/v1/admin/prune", params={"older_than_s": 1e-3}).json() == {
                "n_deleted": 5
            }
        assert store.count_events() == 0 and len(store.windows()) == 1

        with server.client("ingest") as c:  # a label that waits longer than the limit is overdue
            c.post("/v1/labels", json={"labels": [{"event_id": "never", "label": 1}]})
        time.sleep(1.2)
        with server.client("read") as c:
            pending = c.get("/v1/labels/pending").json()
            metrics = c.get("/metrics").text
        assert (pending["n_pending"], pending["n_overdue"]) == (1, 1)
        assert pending["labels"][0]["overdue"] is True
        assert "assay_monitor_labels_pending_overdue 1.0" in metrics
    finally:
        store.close()
        server.stop()


def test_on_ingest_is_nudged_after_each_commit_and_its_failure_never_fails_ingest(
    tmp_path: Path,
) -> None:
    settings = MonitorSettings(db=f"sqlite:///{tmp_path / 'monitor.db'}")
    store = open_store(settings)
    seen: list[int] = []

    def nudge() -> None:
        seen.append(store.count_events())  # the batch is committed when the nudge comes
        if len(seen) == 2:
            raise RuntimeError("the worker is down")

    app = create_app(
        settings,
        store,
        tokens=TokenSet.from_env_value(f"ingest:{TOKENS['ingest']}"),
        on_ingest=nudge,
    )
    headers = {"Authorization": f"Bearer {TOKENS['ingest']}"}
    with serve_in_thread(app) as url, httpx.Client(base_url=url, headers=headers) as c:
        assert c.post("/v1/events", json={"events": [event(1), event(2)]}).status_code == 200
        assert (
            c.post("/v1/labels", json={"labels": [{"event_id": "e-1", "label": 1}]}).status_code
            == 200
        )
        assert c.post("/v1/events", json={"events": [event(3)]}).status_code == 200
    assert seen == [2, 2, 3]
    store.close()


def test_a_window_that_could_not_be_scored_answers_409_with_why(tmp_path: Path) -> None:
    """Found by the schemathesis fuzz once the worker was wired: a failed window's stored
    "report" was an error record, and its report.html answered 500."""
    settings = MonitorSettings(db=f"sqlite:///{tmp_path / 'monitor.db'}")
    store = open_store(settings)
    start = datetime(2026, 12, 7, 10, tzinfo=timezone.utc)
    why = "the window's events lack the suite's inputs"
    window_id = store.save_window(
        "time:1h:x", start, start + timedelta(hours=1), 3, 0, None, {"error": why}, None
    )
    app = create_app(settings, store, tokens=TokenSet.from_env_value(f"read:{TOKENS['read']}"))
    headers = {"Authorization": f"Bearer {TOKENS['read']}"}
    with serve_in_thread(app) as url, httpx.Client(base_url=url, headers=headers) as c:
        for path in (f"/v1/windows/{window_id}", f"/v1/windows/{window_id}/report.html"):
            r = c.get(path)
            assert r.status_code == 409 and why in r.json()["detail"]
        assert c.get("/v1/windows").json()[0]["error"] == why
    store.close()
