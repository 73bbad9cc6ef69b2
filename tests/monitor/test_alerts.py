"""Alerts and the webhook, against a real HTTP receiver on 127.0.0.1 that fails and recovers."""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

import pytest
from _monitor_parts import Receiver, wait_until

from assay.monitor._alerts import AlertBook, AlertTransition, WebhookSender, alert_payload


def _gate(passed: bool | None, value: float | None = 0.3) -> list[dict[str, Any]]:
    return [{"expression": "drift.share_drifted <= 0.2", "passed": passed, "value": value}]


def test_alert_arrives_once_through_failures_and_resolves_after_an_outage() -> None:
    rx = Receiver(script=["500", "500"])
    sender = WebhookSender(rx.url, backoff_s=0.05, retries=8).start()
    book = AlertBook(send=sender.send)
    try:
        assert book.update(_gate(False), window_key="w1") == [
            {"gate": "drift.share_drifted <= 0.2", "state": "firing"}
        ]
        book.update(_gate(False, 0.4), window_key="w2")  # still failing: no second alert
        book.update(_gate(None, None), window_key="w3")  # pending: changes nothing
        wait_until(lambda: len(rx.received) == 1)
        assert rx.received[0]["state"] == "firing" and rx.received[0]["window"]["key"] == "w1"
        assert [s for _, s in rx.attempts] == ["500", "500", "200"]
        assert book.n_deduplicated == 1
        port = rx.port
        rx.stop()  # connection refused from now on
        states = book.update(_gate(True, 0.1), window_key="w4")
        assert states == [{"gate": "drift.share_drifted <= 0.2", "state": "resolved"}]
        wait_until(lambda: sender.n_retries >= 4)  # it keeps trying against the refused port
        rx2 = Receiver(port=port)
        wait_until(lambda: len(rx2.received) == 1)
        assert rx2.received[0]["state"] == "resolved"
        assert rx2.received[0]["window"]["key"] == "w4"
        book.update(_gate(True, 0.1), window_key="w5")  # passing and not firing: nothing
        time.sleep(0.2)
        assert len(rx.received) + len(rx2.received) == 2
        rx2.stop()
    finally:
        sender.stop(timeout_s=1)


def test_send_never_blocks_on_a_hanging_receiver() -> None:
    rx = Receiver(script=["hang:5", "hang:5"])
    sender = WebhookSender(rx.url, timeout_s=10, max_queue=3).start()
    book = AlertBook(send=sender.send)
    try:
        t0 = time.perf_counter()
        for i in range(10):
            book.update(_gate(i % 2 == 0), window_key=f"w{i}")
        elapsed = time.perf_counter() - t0
        # 10 windows, 10 transitions, while the receiver hangs 5 s on the first POST: nothing
        # waits for it (the bound is loose for a busy machine; one POST alone would take 5 s)
        assert elapsed < 2.0, elapsed
        # 9 transitions (the first window passes: nothing to resolve); the queue holds 3 and
        # the thread 1 (hanging): the rest were dropped and counted
        assert sender.n_dropped >= 9 - 3 - 1
    finally:
        sender.stop(timeout_s=0.2)
        rx.stop()


def test_retry_after_is_honoured() -> None:
    rx = Receiver(script=["503:1"])
    sender = WebhookSender(rx.url, backoff_s=0.01).start()
    try:
        sender.send({"text": "x"})
        wait_until(lambda: len(rx.received) == 1)
        (t_first, _), (t_second, _) = rx.attempts
        assert t_second - t_first >= 0.95  # backoff alone would retry after ~0.01 s
    finally:
        sender.stop()
        rx.stop()


def test_client_error_is_not_retried_and_is_counted() -> None:
    rx = Receiver(script=["400"])
    sender = WebhookSender(rx.url, backoff_s=0.01).start()
    try:
        sender.send({"text": "x"})
        wait_until(lambda: sender.n_dropped == 1)
        assert len(rx.attempts) == 1
    finally:
        sender.stop()
        rx.stop()


def test_webhook_credentials_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://hookuser:s3cr3t-pass@127.0.0.1:{port}/hook?token=t0k3n"
    caplog.set_level(logging.DEBUG, logger="assay.monitor.alerts")
    sender = WebhookSender(url, backoff_s=0.01, retries=2).start()
    try:
        sender.send({"text": "x"})
        wait_until(lambda: sender.n_dropped == 1)
    finally:
        sender.stop()
    text = caplog.text
    assert "alert dropped after 3 tries" in text
    assert "s3cr3t-pass" not in text and "t0k3n" not in text and "hookuser" not in text
    assert "s3cr3t" not in repr(sender.safe_url)


class _Store:
    """The part of the monitor store the AlertBook uses, kept in a list (its own logic is
    under test here; the SQL store is tested by the store's tests)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def save_alert(self, **row: Any) -> int:
        self.rows.append({**row, "id": len(self.rows) + 1})
        return len(self.rows)

    def alerts(self, state: str | None = None) -> list[dict[str, Any]]:
        """Newest first, as the monitor store lists them."""
        return [r for r in self.rows[::-1] if state is None or r["state"] == state]


def test_alerts_are_stored_and_a_restart_neither_repeats_nor_forgets() -> None:
    store = _Store()
    sent: list[dict[str, Any]] = []
    AlertBook(store, send=sent.append).update(_gate(False), window_key="w1", window_id=1)
    assert [(r["state"], r["window_id"]) for r in store.rows] == [("firing", 1)]
    restarted = AlertBook(store, send=sent.append)
    restarted.update(_gate(False), window_key="w2", window_id=2)
    assert len(sent) == 1  # still firing: not sent again after the restart
    restarted.update(_gate(True, 0.1), window_key="w3", window_id=3)
    assert [s["state"] for s in sent] == ["firing", "resolved"]
    assert [r["state"] for r in store.rows] == ["firing", "resolved"]
    # fire again, then resolve; a restart after that must not think it is still firing
    restarted.update(_gate(False), window_key="w4", window_id=4)
    restarted.update(_gate(True, 0.1), window_key="w5", window_id=5)
    assert AlertBook(store).firing == {}
    assert AlertBook(store, send=sent.append).update(_gate(True), window_key="w6") == []
    assert [s["state"] for s in sent] == ["firing", "resolved", "firing", "resolved"]
    assert store.rows[0]["detail"] == {"window_key": "w1", "detail": "", "at": sent[0]["at"]}


def test_payload_shape() -> None:
    t = AlertTransition("performance.accuracy.lower >= 0.8", "firing", 7, "time:1h:x", 0.71)
    body = alert_payload(t, window={"start": "a", "end": "b", "n_events": 5})
    assert body["window"] == {"id": 7, "key": "time:1h:x", "start": "a", "end": "b", "n_events": 5}
    assert body["text"].startswith("[assay monitor] FIRING: performance.accuracy.lower >= 0.8")
    json.dumps(body)


class _StoreWithFiringGates(_Store):
    """The monitor store's one-query answer (``firing_gates``), as the real store has it."""

    def firing_gates(self) -> list[str]:
        last: dict[str, str] = {}
        for r in self.rows:
            last[r["gate"]] = r["state"]
        return [g for g, s in last.items() if s == "firing"]


@pytest.mark.parametrize("store_kind", [_Store, _StoreWithFiringGates])
def test_two_processes_sharing_a_store_send_each_alert_once(store_kind) -> None:
    store = store_kind()
    sent: list[dict[str, Any]] = []
    a, b = AlertBook(store, send=sent.append), AlertBook(store, send=sent.append)
    a.update(_gate(False), window_key="w1")
    b.update(_gate(False), window_key="w2")  # b did not see w1, the store did
    b.update(_gate(True, 0.1), window_key="w3")
    a.update(_gate(True, 0.1), window_key="w4")  # already resolved by b
    assert [(s["state"], s["window"]["key"]) for s in sent] == [
        ("firing", "w1"),
        ("resolved", "w3"),
    ]
