"""Windows of live traffic: the events as a table, where windows begin and end, and which are due.

A window is tumbling, by time or by count:

- by time (``every: "1h"``, ``"1d"``, ``"7d"``, ``"15min"``): ``[start, start + every)`` with
  ``start`` a whole number of periods since the Unix epoch, in UTC, so every process cuts the same
  windows whatever the first event was. A window is complete when an event whose timestamp is at
  or past its end has arrived (traffic has moved on), or when ``now`` is past its end plus a grace
  period (traffic stopped; events arriving late in the grace still count).
- by count (``events: N``): the first N events in arrival order (the store's ``seq``), the next N,
  and so on; a window is complete when its N-th event is in.

Each window has a key (``time:1h:2026-12-07T10:00:00Z``, ``count:500:3``) that
``store.claim_window`` takes, so that each window is computed once however many processes run.
The scoring of a window is in :mod:`assay.monitor._scoring`; the background worker that closes
and scores windows is :class:`assay.monitor._worker.WindowWorker`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import pandas as pd

from assay.errors import ConfigError
from assay.monitor._config import parse_duration
from assay.monitor._schema import Event

__all__ = [
    "EPOCH",
    "WindowBounds",
    "WindowRule",
    "as_event_dict",
    "due_windows",
    "events_frame",
    "parse_period",
    "parse_window_rule",
    "window_of",
]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Columns of :func:`events_frame` that are not inputs or groups.
META_COLUMNS = ("id", "timestamp", "model_version", "prediction", "label", "latency_ms")
PROB_PREFIX = "prob_"


# ----------------------------------------------------------------------------- events as a table


def as_event_dict(event: Any) -> dict[str, Any]:
    """One event as the spec's JSON dict, whatever the store hands back (a dict, a pydantic
    model, a dataclass or an object with the spec's attributes; ``seq`` kept when it has one)."""
    if isinstance(event, Mapping):
        return dict(event)
    dump = getattr(event, "model_dump", None)
    if callable(dump):
        return dict(dump())
    to_dict = getattr(event, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    fields = (*Event.model_fields, "seq")
    return {f: getattr(event, f) for f in fields if hasattr(event, f)}


def _utc(value: Any) -> pd.Timestamp:
    t = pd.Timestamp(value)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _py(value: Any) -> datetime:
    """A UTC datetime (nanoseconds, which datetime cannot hold, floored to microseconds)."""
    return _utc(value).floor("us").to_pydatetime()


def events_frame(events: Iterable[Any]) -> pd.DataFrame:
    """The events as one table: a row per event (see docs/monitor-windows.md).

    Columns: ``id`` (the event id), ``timestamp`` (UTC), ``model_version``, each ``inputs`` key,
    each ``groups`` key (an input of the same name wins: it is the same attribute), ``prediction``,
    ``prob_<label>`` per probability label, ``label`` (``None`` until labelled), ``latency_ms``
    (NaN when not sent), and ``seq`` when the store gave one.

    Example:
        >>> f = events_frame([{"event_id": "e-1", "timestamp": "2026-12-07T10:00:00Z",
        ...     "inputs": {"AGEP": 35}, "prediction": "1", "probabilities": {"0": 0.3, "1": 0.7},
        ...     "groups": {"sex": "female"}}])
        >>> list(f.columns)
        ['id', 'timestamp', 'model_version', 'AGEP', 'sex', 'prediction', 'prob_0', 'prob_1', 'label', 'latency_ms']
    """
    rows: list[dict[str, Any]] = []
    inputs_keys: dict[str, None] = {}
    group_keys: dict[str, None] = {}
    prob_keys: dict[str, None] = {}
    has_seq = False
    for raw in events:
        e = as_event_dict(raw)
        inputs = e.get("inputs") or {}
        groups = e.get("groups") or {}
        probs = e.get("probabilities") or {}
        row: dict[str, Any] = {
            "id": str(e["event_id"]),
            "timestamp": _utc(e["timestamp"]),
            "model_version": e.get("model_version") or "unknown",
            "prediction": e.get("prediction"),
            "label": e.get("label"),
            "latency_ms": e.get("latency_ms"),
        }
        for k, v in inputs.items():
            inputs_keys[str(k)] = None
            row[f"in:{k}"] = v
        for k, v in groups.items():
            group_keys[str(k)] = None
            row[f"group:{k}"] = v
        for k, v in probs.items():
            prob_keys[str(k)] = None
            row[f"{PROB_PREFIX}{k}"] = v
        if e.get("seq") is not None:
            has_seq = True
            row["seq"] = e["seq"]
        rows.append(row)
    feature_cols = list(inputs_keys)
    group_cols = [g for g in group_keys if g not in inputs_keys]
    frame = pd.DataFrame(
        {
            "id": [r["id"] for r in rows],
            "timestamp": pd.to_datetime([r["timestamp"] for r in rows], utc=True),
            "model_version": [r["model_version"] for r in rows],
            **{c: [r.get(f"in:{c}", r.get(f"group:{c}")) for r in rows] for c in feature_cols},
            **{g: [r.get(f"group:{g}") for r in rows] for g in group_cols},
            "prediction": [r["prediction"] for r in rows],
            **{
                f"{PROB_PREFIX}{k}": pd.to_numeric(
                    pd.Series([r.get(f"{PROB_PREFIX}{k}") for r in rows], dtype=object),
                    errors="coerce",
                )
                for k in prob_keys
            },
            "label": pd.Series([r["label"] for r in rows], dtype=object),
            "latency_ms": pd.to_numeric(
                pd.Series([r["latency_ms"] for r in rows], dtype=object), errors="coerce"
            ),
            **({"seq": [r.get("seq") for r in rows]} if has_seq else {}),
        }
    )
    # which columns were inputs and which groups (a name in both is an input)
    frame.attrs["inputs"] = feature_cols
    frame.attrs["groups"] = group_cols
    return frame


def probability_labels(frame: pd.DataFrame) -> list[str]:
    """The labels that have a ``prob_<label>`` column, in column order."""
    return [str(c)[len(PROB_PREFIX) :] for c in frame.columns if str(c).startswith(PROB_PREFIX)]


# ----------------------------------------------------------------------------- window boundaries


@dataclass(frozen=True)
class WindowRule:
    """How traffic is cut into windows.

    Attributes:
        by: ``"time"`` or ``"count"``.
        every: the period of time windows.
        size: events per count window.
        grace: how long past its end a time window waits for late events when no later event
            arrives.
        text: the rule as configured (``"1h"``, ``"500 events"``), for keys and messages.
    """

    by: Literal["time", "count"]
    every: timedelta | None = None
    size: int | None = None
    grace: timedelta = timedelta(0)
    text: str = ""


def parse_window_rule(
    *, every: str | None = None, events: int | None = None, grace: str | None = None
) -> WindowRule:
    """A window rule from the monitor config's ``window:`` (``every: 1h`` or ``events: 500``).

    Raises:
        ConfigError: neither or both given, a period pandas cannot read, or a size below 1.
    """
    if (every is None) == (events is None):
        raise ConfigError(
            "monitor window: give either every (a period such as 1h, 1d, 7d) or events (a "
            "number of events per window), not both and not neither"
        )
    grace_td = parse_period(grace, "grace") if grace else timedelta(0)
    if events is not None:
        if isinstance(events, bool) or not isinstance(events, int) or events < 1:
            raise ConfigError(f"monitor window.events: {events!r} is not a whole number >= 1")
        return WindowRule(by="count", size=events, grace=grace_td, text=f"{events}")
    assert every is not None
    return WindowRule(by="time", every=parse_period(every, "every"), grace=grace_td, text=every)


def parse_period(text: str, name: str) -> timedelta:
    """``"15min"``, ``"1h"``, ``"1d"``, ``"7d"``, ``"2w"`` as a timedelta (fixed periods only:
    calendar months are not)."""
    return parse_duration(text, what=f"monitor window.{name}")


@dataclass(frozen=True)
class WindowBounds:
    """One window: its key and what it covers.

    Attributes:
        key: what ``store.claim_window`` and ``store.save_window`` take.
        start, end: for time windows, ``[start, end)`` in UTC; for count windows, the first
            and last event's timestamps (``end`` inclusive).
        index: the window's number: periods since the epoch, or count windows since the first.
        first_seq, last_seq: for count windows, the store ``seq`` range (inclusive).
    """

    key: str
    start: datetime
    end: datetime
    index: int
    first_seq: int | None = None
    last_seq: int | None = None


def window_of(rule: WindowRule, timestamp: Any) -> WindowBounds:
    """The time window holding ``timestamp`` (epoch-aligned, UTC)."""
    if rule.by != "time" or rule.every is None:
        raise ConfigError("window_of: count windows are not found from a time")
    t = _py(timestamp)
    index = math.floor((t - EPOCH) / rule.every)
    start = EPOCH + index * rule.every
    end = start + rule.every
    return WindowBounds(key=_time_key(rule, start), start=start, end=end, index=index)


def _time_key(rule: WindowRule, start: datetime) -> str:
    return f"time:{rule.text}:{start.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def due_windows(
    rule: WindowRule,
    events: pd.DataFrame | Sequence[Any],
    *,
    now: datetime,
    closed: Iterable[str] = (),
    last_index: int | None = None,
) -> list[WindowBounds]:
    """The windows that are complete and not yet closed, oldest first.

    Args:
        rule: the window rule.
        events: the events so far not in a closed window (an :func:`events_frame`, or events);
            count windows need the store's ``seq``.
        now: the time now (UTC).
        closed: keys of windows already closed (they are never due again).
        last_index: the index of the last closed window: earlier windows are never due again
            (an event arriving after its window closed is late and left to the next re-score).

    Returns:
        The due windows. A time window is due when an event at or past its end has arrived or
        ``now`` is past its end plus the grace; a count window when it holds ``size`` events.
        Periods without events are not windows (nothing to score).
    """
    frame = events if isinstance(events, pd.DataFrame) else events_frame(events)
    done = set(closed)
    if frame.empty:
        return []
    if rule.by == "count":
        return _due_count(rule, frame, done, last_index)
    now_utc = _py(now)
    latest = _py(frame["timestamp"].max())
    seen: dict[int, WindowBounds] = {}
    for t in frame["timestamp"]:
        w = window_of(rule, t)
        seen.setdefault(w.index, w)
    due = []
    for index in sorted(seen):
        w = seen[index]
        if w.key in done or (last_index is not None and index <= last_index):
            continue
        if latest >= w.end or now_utc >= w.end + rule.grace:
            due.append(w)
    return due


def _due_count(
    rule: WindowRule, frame: pd.DataFrame, done: set[str], last_index: int | None
) -> list[WindowBounds]:
    """Count windows over ``frame`` (the events after the last closed window), in ``seq``
    order: chunks of ``size``; the remainder waits. Gaps in ``seq`` (a database sequence skips
    numbers on a rolled-back transaction) do not matter: windows count events, not numbers."""
    assert rule.size is not None
    if "seq" not in frame.columns:
        raise ConfigError("count windows need the store's arrival order (seq) of each event")
    ordered = frame.sort_values("seq", kind="stable").reset_index(drop=True)
    first = 0 if last_index is None else last_index + 1
    due = []
    for k in range(len(ordered) // rule.size):
        part = ordered.iloc[k * rule.size : (k + 1) * rule.size]
        index = first + k
        key = f"count:{rule.size}:{index}"
        if key in done:
            continue
        due.append(
            WindowBounds(
                key=key,
                start=_py(part["timestamp"].min()),
                end=_py(part["timestamp"].max()),
                index=index,
                first_seq=int(part["seq"].iloc[0]),
                last_seq=int(part["seq"].iloc[-1]),
            )
        )
    return due
