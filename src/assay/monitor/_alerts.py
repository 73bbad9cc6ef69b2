"""Alerts: a failed gate fires once, stays quiet while it keeps failing, and resolves when it passes.

:class:`AlertBook` turns each window's gate outcomes into alert transitions — ``firing`` (a gate
that passed, or was never seen, now fails) and ``resolved`` (a firing gate passes again) — saves
each transition (``store.save_alert``) and hands it to a sender. A gate that keeps failing in the
next windows is the same alert (de-duplicated, counted); a pending or not-applicable gate changes
nothing (its condition is unknown). Which gates are firing is read back from the store at start,
and again before each window's gates, so a restarted server neither repeats an alert nor forgets
to resolve it, and server processes sharing one database do not each send the same alert (two
processes deciding the same gate at the same instant can still both send it).

:class:`WebhookSender` POSTs each alert as JSON from a background thread: a bounded queue (a full
queue drops the new message, counts and logs it), retries with exponential backoff (a server's
``Retry-After`` wins, capped), and ``send`` never blocks — a failing or hanging webhook never
slows ingest or the window worker. The URL's credentials and query never reach a log line.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import queue
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

import httpx

from assay._util._redact import redact_spec
from assay._util._retry import backoff_delay

__all__ = ["AlertBook", "AlertTransition", "WebhookSender", "alert_payload"]

log = logging.getLogger("assay.monitor.alerts")

FIRING = "firing"
RESOLVED = "resolved"


@dataclass(frozen=True)
class AlertTransition:
    """One change of a gate's alert state.

    Attributes:
        gate: the gate expression.
        state: ``firing`` or ``resolved``.
        window_id: the window that showed it (the store's id), when saved.
        window_key: the window's key.
        value: the gate's observed value in that window.
        detail: the gate's detail in words.
        at: when (UTC, ISO 8601).
    """

    gate: str
    state: str
    window_id: int | None
    window_key: str
    value: float | None
    detail: str = ""
    at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )


def alert_payload(t: AlertTransition, *, window: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The webhook's JSON body for one transition (docs/monitor-windows.md)."""
    body: dict[str, Any] = {
        "type": "assay.monitor.alert",
        "state": t.state,
        "gate": t.gate,
        "value": t.value,
        "detail": t.detail,
        "window": {"id": t.window_id, "key": t.window_key},
        "at": t.at,
    }
    if window:
        body["window"].update({k: window[k] for k in ("start", "end", "n_events") if k in window})
    body["text"] = (
        f"[assay monitor] {'FIRING' if t.state == FIRING else 'resolved'}: {t.gate}"
        + (f" (observed {t.value:.4g})" if t.value is not None else "")
        + f" in window {t.window_key}"
    )
    return body


def _field(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)


@runtime_checkable
class KnowsFiringGates(Protocol):
    """A store that lists the gates whose latest alert is firing, in one query."""

    def firing_gates(self) -> list[str]: ...


class AlertBook:
    """Which gates are firing, and the transitions each window causes.

    Args:
        store: saves transitions (``save_alert(gate=, state=, window_id=, value=, detail=)``,
            ``detail`` a dict) and knows the firing ones (``alerts()``: rows with ``id``,
            ``gate`` and ``state``; the latest row of a gate is its state); ``None`` keeps them
            in memory only.
        send: called with each transition's payload (e.g. :meth:`WebhookSender.send`).
    """

    def __init__(self, store: Any = None, send: Callable[[dict[str, Any]], Any] | None = None):
        self._store = store
        self._send = send
        self._lock = threading.Lock()
        self.firing: dict[str, AlertTransition] = {}
        #: Failed gates not re-sent because their alert was already firing.
        self.n_deduplicated = 0
        self._refresh()

    def _firing_in_store(self) -> list[str]:
        if isinstance(self._store, KnowsFiringGates):
            return list(self._store.firing_gates())
        last: dict[str, str] = {}
        rows = list(self._store.alerts())
        if all(isinstance(_field(r, "id"), int) for r in rows):
            rows.sort(key=lambda r: _field(r, "id"))  # the store lists newest first
        for row in rows:
            last[str(_field(row, "gate"))] = str(_field(row, "state"))
        return [gate for gate, state in last.items() if state == FIRING]

    def _refresh(self) -> None:
        """Take the firing gates from the store: another process sharing the database may
        have fired or resolved an alert since (and a restarted one must not repeat them)."""
        if self._store is None:
            return
        firing = self._firing_in_store()
        self.firing = {
            g: self.firing.get(g) or AlertTransition(g, FIRING, None, "(from the store)", None)
            for g in firing
        }

    def update(
        self,
        gates: Iterable[Mapping[str, Any]],
        *,
        window_key: str,
        window_id: int | None = None,
        window: Mapping[str, Any] | None = None,
    ) -> list[dict[str, str]]:
        """Apply one window's gates (``{"expression", "passed", "value"[, "detail"]}``; a gate
        with ``passed`` None is undecided and changes nothing).

        Returns:
            The window's alerts for its summary: ``[{"gate", "state"}]`` for each gate firing
            after this window, and each resolved by it.
        """
        transitions: list[AlertTransition] = []
        with self._lock:
            self._refresh()
            for g in gates:
                passed = g.get("passed")
                gate = str(g["expression"])
                if passed is None:
                    continue
                value = g.get("value")
                if not passed and gate not in self.firing:
                    t = AlertTransition(
                        gate, FIRING, window_id, window_key, value, str(g.get("detail", ""))
                    )
                    self.firing[gate] = t
                    transitions.append(t)
                elif not passed:
                    self.n_deduplicated += 1
                elif passed and gate in self.firing:
                    del self.firing[gate]
                    transitions.append(
                        AlertTransition(
                            gate, RESOLVED, window_id, window_key, value, "passes again"
                        )
                    )
            states = [{"gate": gate, "state": FIRING} for gate in self.firing]
        for t in transitions:
            if self._store is not None:
                self._store.save_alert(
                    gate=t.gate,
                    state=t.state,
                    window_id=t.window_id,
                    value=t.value,
                    detail={"window_key": t.window_key, "detail": t.detail, "at": t.at},
                )
            if self._send is not None:
                self._send(alert_payload(t, window=window))
            if t.state == RESOLVED:
                states.append({"gate": t.gate, "state": RESOLVED})
            log.warning("alert %s: %s (window %s)", t.state, t.gate, t.window_key)
        return states


class WebhookSender:
    """POST alerts to a webhook from a background thread; ``send`` never blocks.

    Args:
        url: the webhook (credentials in it are never logged).
        max_queue: messages waiting at most; one more is dropped (counted in ``n_dropped``).
        retries: further tries of a message after a failure (connection error, timeout, 429 or
            5xx); a 4xx other than 408/429 is not retried. A message that fails every try is
            dropped and counted.
        backoff_s: the first wait; doubles each try, at most ``max_backoff_s``; a
            ``Retry-After`` header (seconds or a date) wins, capped at ``max_backoff_s``.
        timeout_s: one request's time limit (a hanging receiver costs the thread this much).
        headers: extra headers (e.g. an Authorization the receiver wants; never logged).
    """

    def __init__(
        self,
        url: str,
        *,
        max_queue: int = 1000,
        retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 60.0,
        timeout_s: float = 5.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.safe_url = redact_spec(url)
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_queue)
        self._client = httpx.Client(timeout=timeout_s, headers=dict(headers or {}))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.n_sent = 0
        self.n_dropped = 0
        self.n_retries = 0
        self._rng = random.Random(0)

    def start(self) -> WebhookSender:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="assay-webhook", daemon=True)
            self._thread.start()
        return self

    def send(self, payload: dict[str, Any]) -> bool:
        """Queue one message; returns at once. ``False``: the queue was full and the message was
        dropped (counted and logged)."""
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.n_dropped += 1
            log.error(
                "webhook %s: queue full, alert dropped (%d dropped so far): %s",
                self.safe_url,
                self.n_dropped,
                payload.get("text", ""),
            )
            return False
        return True

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop after the messages in hand (waiting at most ``timeout_s``); what is left is
        counted as dropped."""
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        if self._thread is not None:
            self._thread.join(timeout_s)
        left = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            left += item is not None
        if left:
            self.n_dropped += left
            log.error("webhook %s: stopped with %d alert(s) unsent", self.safe_url, left)
        self._client.close()

    def pending(self) -> int:
        return self._queue.qsize()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._deliver(item)
            if self._stop.is_set() and self._queue.empty():
                return

    def _deliver(self, payload: dict[str, Any]) -> None:
        reason = ""
        attempt = 0
        for attempt in range(self.retries + 1):
            after: float | None = None
            try:
                resp = self._client.post(self.url, json=payload)
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            else:
                if resp.status_code < 300:
                    self.n_sent += 1
                    return
                reason = f"HTTP {resp.status_code}"
                if 400 <= resp.status_code < 500 and resp.status_code not in (408, 429):
                    break
                after = _retry_after(resp.headers.get("retry-after"))
            if attempt == self.retries:
                break
            # The shared backoff (jittered, doubling); the server's Retry-After is a floor.
            wait = min(
                backoff_delay(attempt, base_s=self.backoff_s, rng=self._rng, retry_after_s=after),
                self.max_backoff_s,
            )
            self.n_retries += 1
            log.info("webhook %s: %s; retry in %.2f s", self.safe_url, reason, wait)
            if self._stop.wait(wait):
                break  # stopping: what is unsent is counted below
        self.n_dropped += 1
        log.error(
            "webhook %s: alert dropped after %d tries (%s): %s",
            self.safe_url,
            attempt + 1,
            reason,
            payload.get("text", ""),
        )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number of seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
