"""An acknowledged event is committed: SIGKILL the server in the middle of ingest, start it again,
and every acknowledged event is there, none twice; re-sending the batches that got no answer stores
each missing event once. On SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from _monitor_parts import TOKENS, event, start_server
from sqlalchemy import func, select

from assay.monitor._store import Store
from assay.monitor._tables import events

BATCH = 200
CLIENTS = 3


def _batch(client: int, n: int) -> list[dict[str, object]]:
    return [event(f"c{client}-b{n}-{i}", inputs={"i": i, "text": "x" * 40}) for i in range(BATCH)]


def test_sigkill_mid_ingest_loses_no_acknowledged_event_and_stores_none_twice(
    db_url: str, tmp_path: Path
) -> None:
    server = start_server(tmp_path, db_url, log_name="first.log")
    acked: list[tuple[int, int]] = []
    unacked: list[tuple[int, int]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(c: int) -> None:
        headers = {"Authorization": f"Bearer {TOKENS['ingest']}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            n = 0
            while not stop.is_set():
                try:
                    r = http.post("/v1/events", json={"events": _batch(c, n)})
                    ok = r.status_code == 200 and r.json()["n_new"] == BATCH
                except httpx.HTTPError:
                    ok = False
                with lock:
                    (acked if ok else unacked).append((c, n))
                if not ok:
                    return  # the server is gone
                n += 1

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 15 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # SIGKILL, with requests in flight
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(acked) >= 15, server.output()[-3000:]
    assert unacked, "no request was in flight when the server was killed"

    again = start_server(tmp_path, db_url, log_name="second.log")
    store = Store(db_url)
    try:
        stored = Counter(e.event_id for e in store.events())
        assert all(v == 1 for v in stored.values())  # none twice
        for c, n in acked:  # every acknowledged event is there
            assert all(stored[f"e-c{c}-b{n}-{i}"] == 1 for i in range(BATCH)), (c, n)
        # the unacknowledged batches were committed whole or not at all
        for c, n in unacked:
            present = sum(stored[f"e-c{c}-b{n}-{i}"] for i in range(BATCH))
            assert present in (0, BATCH), (c, n, present)

        with again.client("ingest") as http:  # the client re-sends what got no answer
            for c, n in unacked + acked[:3]:
                r = http.post("/v1/events", json={"events": _batch(c, n)})
                assert r.status_code == 200
                assert r.json()["n_new"] + r.json()["n_duplicate"] == BATCH
        with store.engine.connect() as conn:
            per_event = conn.execute(
                select(events.c.event_id, func.count()).group_by(events.c.event_id)
            ).all()
        assert {count for _, count in per_event} == {1}
        assert len(per_event) == (len(acked) + len(unacked)) * BATCH
    finally:
        store.close()
        again.stop()
