"""The window worker: closes due windows, scores each once, saves it, raises its alerts, and
re-scores recent windows when their labels arrive.

``run_once(now)`` does one pass and is what the tests and the server's ``on_ingest`` hook call;
``start()`` / ``stop()`` run passes on a background thread (every ``interval_s``, and at once
when :meth:`WindowWorker.poke` is called after an ingest). Each window is claimed through
``store.claim_window(key)`` first, so that several server processes sharing one database compute
each window once. A window that fails to score is saved with the error in its summary and its
report (it is not retried forever, and the failure is visible in ``/v1/windows``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from assay.config._suite import Suite
from assay.data import read_table
from assay.monitor._alerts import AlertBook
from assay.monitor._scoring import score_window
from assay.monitor._summary import gate_states, window_passed, window_summary
from assay.monitor._windows import (
    WindowBounds,
    WindowRule,
    as_event_dict,
    due_windows,
    events_frame,
    parse_window_rule,
    window_of,
)
from assay.report._schema import Report

__all__ = ["WindowWorker", "rescore_window"]

log = logging.getLogger("assay.monitor.windows")

#: How long a quiet time window waits past its end for events still in flight, unless the
#: settings' ``window.grace`` says otherwise (a later event closes it at once anyway).
DEFAULT_GRACE = "1min"


def _field(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def _rule_of(settings: Any) -> WindowRule:
    if isinstance(settings, WindowRule):
        return settings
    window = (
        _field(settings, "window") if not isinstance(settings, dict) else settings.get("window")
    )
    window = window if window is not None else settings
    return parse_window_rule(
        every=_field(window, "every") if _field(window, "events") is None else None,
        events=_field(window, "events"),
        grace=_field(window, "grace") or DEFAULT_GRACE,
    )


def _utc(t: Any) -> datetime:
    ts = pd.Timestamp(t)
    return (
        (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC"))
        .floor("us")
        .to_pydatetime()
    )


class WindowWorker:
    """Closes and scores windows for one store.

    Args:
        store: the monitor's Store (spec: ``events``, ``claim_window``, ``save_window``,
            ``windows``, ``save_alert``, ``alerts``).
        settings: the monitor settings (its ``window``: ``every``/``events``, optional
            ``grace``) or a :class:`WindowRule`.
        suite: the suite whose checks and gates score each window.
        reference: the reference file or table.
        alerts: the AlertBook (default: one over ``store`` that sends nothing).
        model_version: the production version scored in windows (default: every event).
        rescore_last: how many of the latest windows are re-scored when labels arrive.
        rescore_interval_s: how often (at most) those windows are checked for new labels:
            each check reads their events (the Store API has no count of labelled events).
        interval_s: the background thread's pass interval when not poked.
    """

    def __init__(
        self,
        store: Any,
        settings: Any,
        suite: Suite,
        reference: str | Path | pd.DataFrame,
        *,
        alerts: AlertBook | None = None,
        model_version: str | None = None,
        rescore_last: int = 24,
        rescore_interval_s: float = 300.0,
        interval_s: float = 5.0,
    ) -> None:
        self.store = store
        self.rule = _rule_of(settings)
        self.suite = suite
        # read once, here: a missing or unreadable reference stops the server at start
        self.reference = reference if isinstance(reference, pd.DataFrame) else read_table(reference)
        self.alerts = alerts if alerts is not None else AlertBook(store)
        self.model_version = model_version
        self.rescore_last = rescore_last
        self.rescore_interval_s = rescore_interval_s
        self._last_rescore: datetime | None = None
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.n_scored = 0
        self.n_failed = 0

    # ------------------------------------------------------------------ one pass

    def _closed(self) -> list[Any]:
        prefix = "time:" if self.rule.by == "time" else "count:"
        prefix += f"{self.rule.text if self.rule.by == 'time' else self.rule.size}:"
        return [w for w in self.store.windows() if str(_field(w, "key")).startswith(prefix)]

    def run_once(self, now: datetime | None = None) -> list[int]:
        """Close and score every due window, then re-score recent windows with new labels.

        Returns:
            The store ids of the windows saved in this pass.
        """
        now = now or datetime.now(timezone.utc)
        with self._lock:
            closed = self._closed()
            keys = {str(_field(w, "key")) for w in closed}
            saved = []
            if self.rule.by == "time":
                last_end = max((_utc(_field(w, "end")) for w in closed), default=None)
                for w in self._due_time_windows(last_end, now):
                    if w.key in keys or not self.store.claim_window(w.key):
                        continue
                    part = self.store.events(start=w.start, end=w.end)
                    saved.append(self._score_and_save(w, part))
            else:
                last_seq = max((s for w in closed if (s := _seq_of(w)) is not None), default=None)
                last_index = max(
                    (i for w in closed if (i := _count_index(w)) is not None), default=None
                )
                events = self.store.events(after_seq=last_seq)
                due = due_windows(self.rule, events, now=now, closed=keys, last_index=last_index)
                frame = events_frame(events) if due else None
                for w in due:
                    if not self.store.claim_window(w.key):
                        continue
                    assert frame is not None
                    part_frame = frame[(frame["seq"] >= w.first_seq) & (frame["seq"] <= w.last_seq)]
                    saved.append(self._score_and_save(w, part_frame))
            if (
                self._last_rescore is None
                or (now - self._last_rescore).total_seconds() >= self.rescore_interval_s
            ):
                self._last_rescore = now
                saved += self._rescore_labelled(closed)
            return saved

    def _due_time_windows(self, last_end: datetime | None, now: datetime) -> list[WindowBounds]:
        """The due time windows after ``last_end``, found with one-row reads of the store
        (``limit=1`` by timestamp) rather than by loading the events: from the first event
        after ``last_end``, a window is due when some event lies at or past its end (the next
        window to look at is that event's: periods without events are skipped) or when ``now``
        is past its end plus the grace."""
        due: list[WindowBounds] = []
        first = self.store.events(start=last_end, limit=1)
        if not first:
            return due
        w = window_of(self.rule, as_event_dict(first[0])["timestamp"])
        while True:
            later = self.store.events(start=w.end, limit=1)
            if later:
                due.append(w)
                w = window_of(self.rule, as_event_dict(later[0])["timestamp"])
                continue
            if now >= w.end + self.rule.grace:
                due.append(w)
            return due

    def _own(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of the model version this worker scores (every row when it scores all)."""
        if self.model_version is None:
            return frame
        return frame[frame["model_version"] == self.model_version]

    def _score_and_save(self, w: WindowBounds, events: Sequence[Any] | pd.DataFrame) -> int:
        frame = events if isinstance(events, pd.DataFrame) else events_frame(events)
        scored = self._own(frame)
        meta: dict[str, Any] = {
            "start": w.start,
            "end": w.end,
            "n_events": len(scored),
            "n_labelled": int(scored["label"].notna().sum()) if len(scored) else 0,
            "model_versions": sorted(map(str, frame["model_version"].unique())),
        }

        def save(passed: bool | None, summary: dict[str, Any], report_json: str | None) -> int:
            if w.last_seq is not None:
                # where the next count window starts (the store's arrival order)
                summary["seq"] = {"first": w.first_seq, "last": w.last_seq}
            return int(
                self.store.save_window(
                    w.key,
                    w.start,
                    w.end,
                    meta["n_events"],
                    meta["n_labelled"],
                    passed,
                    summary,
                    report_json,
                )
            )

        try:
            report = score_window(
                self.suite, self.reference, frame, key=w.key, model_version=self.model_version
            )
        except Exception as exc:  # a window that cannot be scored is saved with why, once
            self.n_failed += 1
            log.error("window %s could not be scored: %s", w.key, exc)
            summary = {**{k: v for k, v in meta.items()}, "passed": None, "error": str(exc)}
            summary["start"], summary["end"] = _iso(w.start), _iso(w.end)
            # no Report: the summary says why, the log has the cause
            return save(None, summary, None)
        passed = window_passed(report)
        summary = window_summary(report, meta)
        report_json = report.to_json()
        window_id = save(passed, summary, report_json)
        states = self.alerts.update(
            gate_states(report), window_key=w.key, window_id=window_id, window=summary
        )
        if states:
            save(passed, {**summary, "id": window_id, "alerts": states}, report_json)
        self.n_scored += 1
        return window_id

    def _rescore_labelled(self, closed: list[Any]) -> list[int]:
        """Re-score the latest windows whose events gained labels since they were scored."""
        if self.rule.by != "time":
            return []
        out = []
        recent = sorted(closed, key=lambda r: _utc(_field(r, "start")))[-self.rescore_last :]
        for row in recent:
            start, end = _utc(_field(row, "start")), _utc(_field(row, "end"))
            events = self.store.events(start=start, end=end)
            n_labelled = int(self._own(events_frame(events))["label"].notna().sum())
            if n_labelled > int(_field(row, "n_labelled") or 0):
                w = WindowBounds(str(_field(row, "key")), start, end, 0)
                out.append(self._score_and_save(w, events))
        return out

    # ------------------------------------------------------------------ background

    def poke(self) -> None:
        """Ask for a pass now (the server calls it after an ingest); returns at once."""
        self._wake.set()

    def start(self) -> WindowWorker:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="assay-windows", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the thread must outlive one bad pass; the error is logged
                log.exception("window pass failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()


def rescore_window(worker: WindowWorker, window_id: int) -> Report | None:
    """Score a saved window again with the labels that have arrived since (realised
    performance beside the estimate); saves it under the same key. ``None``: no such window."""
    row = worker.store.window(window_id)
    if row is None:
        return None
    start, end = _utc(_field(row, "start")), _utc(_field(row, "end"))
    events = worker.store.events(start=start, end=end)
    w = WindowBounds(str(_field(row, "key")), start, end, 0)
    worker._score_and_save(w, events)
    saved = worker.store.window(window_id)
    text = _field(saved, "report_json") if saved is not None else None
    return Report.model_validate_json(text) if text else None


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _seq_of(row: Any) -> int | None:
    summary = _field(row, "summary")
    if isinstance(summary, str):
        summary = json.loads(summary)
    return ((summary or {}).get("seq") or {}).get("last")


def _count_index(row: Any) -> int | None:
    key = str(_field(row, "key"))
    try:
        return int(key.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None
