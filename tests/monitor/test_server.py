"""The server around the app: retention in the background and on demand, overdue pending labels,
and the ``on_ingest`` nudge (served by uvicorn on 127.0.0.1)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import uvicorn
from _monitor_parts import TOKENS, event, free_port, start_server

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
        tmp_path, db, extra=["--retention", "1d"], env={"ASSAY_MONITOR_PENDING_LABEL_LIMIT": "1s"}
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


@contextmanager
def _serve_in_thread(app: object) -> Iterator[str]:
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
    with _serve_in_thread(app) as url, httpx.Client(base_url=url, headers=headers) as c:
        assert c.post("/v1/events", json={"events": [event(1), event(2)]}).status_code == 200
        assert (
            c.post("/v1/labels", json={"labels": [{"event_id": "e-1", "label": 1}]}).status_code
            == 200
        )
        assert c.post("/v1/events", json={"events": [event(3)]}).status_code == 200
    assert seen == [2, 2, 3]
    store.close()
