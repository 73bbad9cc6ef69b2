"""Where the monitor keeps events, labels, windows and alerts: SQLAlchemy Core over SQLite (WAL, the
default: one file, nothing to start) or PostgreSQL through psycopg 3 (several server processes may
share one database).

Durability: a batch is acknowledged only after its transaction has committed. On SQLite the
journal is WAL with ``synchronous=FULL`` by default: each commit fsyncs the WAL, so an acknowledged
batch survives a SIGKILL of the server (``NORMAL`` would too: a killed process loses nothing that
reached the WAL in the OS cache) and also a power cut or kernel crash (which ``NORMAL`` can roll back
to an earlier commit). The fsync costs one disk flush per batch, not per event
(``sqlite_synchronous: NORMAL`` trades it away). PostgreSQL commits durably by its own settings
(``synchronous_commit``, ``fsync``).

Errors from the database never carry the statement's parameters (``hide_parameters``), so event
inputs cannot reach a log through an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from pydantic_core import to_json
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from assay.errors import ConfigError, MissingDependencyError
from assay.monitor._schema import Event, Label
from assay.monitor._tables import alerts, events, pending_labels, window_claims, windows

__all__ = [
    "AlertRow",
    "IngestResult",
    "LabelResult",
    "PendingLabel",
    "Store",
    "StoredEvent",
    "WindowRow",
]

_MIGRATIONS = Path(__file__).parent / "migrations"
#: pg_advisory_lock key taken while migrating, so that servers started together migrate once.
_MIGRATE_LOCK = 0x61737361  # "assa"
#: Rows per statement where a list of ids becomes an IN (...) clause.
_CHUNK = 900
#: The columns of monitor_events that ingest writes, in the order of the insert's parameters.
_EVENT_COLUMNS = (
    "event_id",
    "model_version",
    "timestamp",
    "received_at",
    "inputs",
    "prediction",
    "probabilities",
    "groups",
    "latency_ms",
    "label",
    "labelled_at",
)


@dataclass(frozen=True)
class IngestResult:
    """What one ``add_events`` call stored: new events and re-sent ones (already stored)."""

    n_new: int
    n_duplicate: int


@dataclass(frozen=True)
class LabelResult:
    """Labels applied to stored events, and labels kept pending until their event arrives."""

    n_applied: int
    n_pending: int


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored: ``inputs`` as the input policy left them (raw, hashed or truncated)."""

    seq: int
    event_id: str
    timestamp: datetime
    model_version: str
    inputs: dict[str, Any]
    prediction: Any
    probabilities: dict[str, float] | None
    groups: dict[str, str] | None
    latency_ms: float | None
    label: Any
    received_at: datetime


@dataclass(frozen=True)
class PendingLabel:
    """A label whose event has not arrived yet."""

    event_id: str
    label: Any
    received_at: datetime


@dataclass(frozen=True)
class WindowRow:
    """A scored window. ``report_json`` is filled by :meth:`Store.window` only."""

    id: int
    key: str
    start: datetime
    end: datetime
    n_events: int
    n_labelled: int
    passed: bool | None
    summary: dict[str, Any]
    created_at: datetime
    report_json: str | None = None


@dataclass(frozen=True)
class AlertRow:
    """A stored alert: a gate that failed (``firing``) or cleared (``resolved``)."""

    id: int
    gate: str
    state: str
    window_id: int | None
    value: float | None
    detail: dict[str, Any] | None
    created_at: datetime


def _naive(t: datetime) -> datetime:
    """UTC without a zone, as stored (a naive input is taken as UTC)."""
    if t.tzinfo is None:
        return t
    return t.astimezone(timezone.utc).replace(tzinfo=None)


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _dumps(value: Any) -> str:
    """Compact JSON text, by pydantic-core's serializer (4x json.dumps for an inputs object: a
    third of ingest's own time). A NUL is written as a \\u0000 escape, which PostgreSQL's text
    can hold; a lone surrogate cannot occur (pydantic refuses one in any string it validates)."""
    return to_json(value).decode()


def _sqlite_time(t: datetime) -> str:
    return t.isoformat(sep=" ", timespec="microseconds")


def _same(t: datetime) -> datetime:
    return t


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _InputPolicy:
    """How inputs are kept: ``raw``, ``hash`` (each value's keyed HMAC-SHA256 of its JSON) or
    ``truncate:N`` (each string value cut to N characters)."""

    def __init__(self, policy: str, key: str | None) -> None:
        self.policy = policy
        self._key = key.encode() if key else b""
        self._limit = int(policy.split(":", 1)[1]) if policy.startswith("truncate:") else None
        if policy == "hash" and not key:
            raise ConfigError(
                "store_inputs=hash needs input_hash_key (ASSAY_MONITOR_INPUT_HASH_KEY)"
            )

    def apply(self, inputs: dict[str, Any]) -> str:
        if self.policy == "raw":
            return _dumps(inputs)
        if self.policy == "hash":
            return _dumps(
                {
                    k: "hmac-sha256:"
                    + hmac.new(self._key, _dumps(v).encode(), hashlib.sha256).hexdigest()
                    for k, v in inputs.items()
                }
            )
        limit = self._limit or 0
        return _dumps({k: v[:limit] if isinstance(v, str) else v for k, v in inputs.items()})


class Store:
    """The monitor's database.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///monitor.db`` or ``postgresql+psycopg://user@host/db``.
        store_inputs: ``raw``, ``hash`` or ``truncate:N`` (see :class:`MonitorSettings`).
        input_hash_key: the HMAC key of ``store_inputs="hash"``.
        sqlite_synchronous: ``FULL`` (default) or ``NORMAL``; see the module docstring.

    Raises:
        ConfigError: the URL is not one the monitor supports.
        MissingDependencyError: a PostgreSQL URL without psycopg installed.

    Example:
        >>> store = Store("sqlite:///:memory:")  # doctest: +SKIP
        >>> store.migrate()  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        *,
        store_inputs: str = "raw",
        input_hash_key: str | None = None,
        sqlite_synchronous: str = "FULL",
    ) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ConfigError(
                f"--db {url!r} is not a database URL; write sqlite:///monitor.db or "
                "postgresql+psycopg://user@host:5432/dbname"
            ) from None
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ConfigError(f"--db: the monitor stores to sqlite or postgresql, not {backend!r}")
        if backend == "postgresql" and parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.dialect = backend
        self._inputs = _InputPolicy(store_inputs, input_hash_key)
        self._owner = f"{socket.gethostname()}:{os.getpid()}"
        # One writer at a time inside this process (SQLite takes one anyway; on PostgreSQL this
        # only orders this process's own writes — other processes write beside it).
        self._write_lock = threading.Lock() if backend == "sqlite" else None
        try:
            if backend == "sqlite":
                self._engine = create_engine(parsed, hide_parameters=True)
                _sqlite_pragmas(self._engine, sqlite_synchronous)
            else:
                self._engine = create_engine(parsed, hide_parameters=True, pool_pre_ping=True)
        except ImportError as exc:
            raise MissingDependencyError(
                f"PostgreSQL needs psycopg 3 ({exc}); install it with pip install 'assay[monitor]'"
            ) from None
        self._insert = sqlite_insert if backend == "sqlite" else pg_insert
        mark = "?" if backend == "sqlite" else "%s"
        names = ", ".join(f'"{c}"' for c in _EVENT_COLUMNS)
        marks = ", ".join([mark] * len(_EVENT_COLUMNS))
        self._insert_events = (
            f"INSERT INTO monitor_events ({names}) VALUES ({marks}) "
            'ON CONFLICT ("event_id", "model_version") DO NOTHING'
        )
        # SQLite gets times as the text SQLAlchemy's DateTime writes and reads there; psycopg
        # adapts a datetime itself.
        self._stamp: Callable[[datetime], Any] = _sqlite_time if backend == "sqlite" else _same

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with self._engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self._engine.execution_options(immediate=True).begin() as conn:
            yield conn

    # --- schema -------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic, ``monitor/migrations/``). Servers
        started together on one PostgreSQL database migrate one after the other."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self._engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATE_LOCK})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    # --- events and labels ----------------------------------------------------------------------

    def add_events(self, batch: Iterable[Event]) -> IngestResult:
        """Store a batch in one transaction. A re-sent ``(event_id, model_version)`` is a
        duplicate and changes nothing; a pending label for an arriving event is applied."""
        now = _now()
        stamp = self._stamp
        received = stamp(now)
        rows: dict[tuple[str, str], tuple[Any, ...]] = {}
        n_in = 0
        for e in batch:
            n_in += 1
            key = (e.event_id, e.model_version)
            if key in rows:
                continue
            rows[key] = (
                e.event_id,
                e.model_version,
                stamp(_naive(e.timestamp)),
                received,
                self._inputs.apply(e.inputs),
                _dumps(e.prediction),
                None if e.probabilities is None else _dumps(e.probabilities),
                None if e.groups is None else _dumps(e.groups),
                e.latency_ms,
                None if e.label is None else _dumps(e.label),
                None if e.label is None else received,
            )
        if not rows:
            return IngestResult(0, 0)
        with self._write() as conn:
            # The hot path goes to the driver's executemany (sqlite3's loop is in C; psycopg
            # pipelines): building SQLAlchemy statements for 500 rows cost more than the insert.
            n_new = int(conn.exec_driver_sql(self._insert_events, list(rows.values())).rowcount)
            if conn.execute(select(pending_labels.c.event_id).limit(1)).first() is not None:
                self._apply_pending(conn, sorted({k[0] for k in rows}), now)
        return IngestResult(n_new=n_new, n_duplicate=n_in - n_new)

    def _apply_pending(
        self, conn: Connection, event_ids: Sequence[str] | None, now: datetime
    ) -> int:
        """Apply the pending labels of ``event_ids`` (all when None) whose event is stored."""
        found: list[tuple[str, str]] = []
        if event_ids is None:
            q = select(pending_labels.c.event_id, pending_labels.c.label).where(
                pending_labels.c.event_id.in_(select(events.c.event_id))
            )
            found = [(r[0], r[1]) for r in conn.execute(q)]
        else:
            for part in _chunks(event_ids):
                q = select(pending_labels.c.event_id, pending_labels.c.label).where(
                    pending_labels.c.event_id.in_(part)
                )
                found.extend((r[0], r[1]) for r in conn.execute(q))
        if not found:
            return 0
        conn.execute(
            update(events)
            .where(events.c.event_id == bindparam("eid"))
            .values(label=bindparam("lab"), labelled_at=now),
            [{"eid": eid, "lab": lab} for eid, lab in found],
        )
        for part in _chunks([eid for eid, _ in found]):
            conn.execute(delete(pending_labels).where(pending_labels.c.event_id.in_(part)))
        return len(found)

    def add_labels(self, labels: Iterable[Label]) -> LabelResult:
        """Apply delayed ground truth to every model version of each event; a label whose event
        has not arrived is kept pending (a later label for the same id replaces it)."""
        now = _now()
        latest: dict[str, str] = {}
        for lab in labels:
            latest[lab.event_id] = _dumps(lab.label)
        if not latest:
            return LabelResult(0, 0)
        ids = sorted(latest)
        with self._write() as conn:
            known: set[str] = set()
            for part in _chunks(ids):
                q = select(events.c.event_id).where(events.c.event_id.in_(part)).distinct()
                known.update(r[0] for r in conn.execute(q))
            if known:
                conn.execute(
                    update(events)
                    .where(events.c.event_id == bindparam("eid"))
                    .values(label=bindparam("lab"), labelled_at=now),
                    [{"eid": eid, "lab": latest[eid]} for eid in sorted(known)],
                )
            missing = [eid for eid in ids if eid not in known]
            if missing:
                stmt = self._insert(pending_labels)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["event_id"], set_={"label": stmt.excluded.label}
                )
                conn.execute(
                    stmt,
                    [
                        {"event_id": eid, "label": latest[eid], "received_at": now}
                        for eid in missing
                    ],
                )
        return LabelResult(n_applied=len(known), n_pending=len(missing))

    def apply_pending_labels(self) -> int:
        """Apply every pending label whose event is now stored (a label and its event written at
        the same instant by two processes sharing PostgreSQL can each miss the other; this sweep,
        run by :meth:`pending_labels`, settles them). Returns how many were applied."""
        with self._write() as conn:
            return self._apply_pending(conn, None, _now())

    def pending_labels(self, older_than: datetime | None = None) -> list[PendingLabel]:
        """Labels still waiting for their event, oldest first; only those received before
        ``older_than`` when given."""
        self.apply_pending_labels()
        q = select(pending_labels).order_by(pending_labels.c.received_at, pending_labels.c.event_id)
        if older_than is not None:
            q = q.where(pending_labels.c.received_at < _naive(older_than))
        with self._engine.connect() as conn:
            return [
                PendingLabel(r.event_id, _loads(r.label), _aware(r.received_at))
                for r in conn.execute(q)
            ]

    def count_pending_labels(self, older_than: datetime | None = None) -> int:
        q = select(func.count()).select_from(pending_labels)
        if older_than is not None:
            q = q.where(pending_labels.c.received_at < _naive(older_than))
        with self._engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def events(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
        *,
        model_version: str | None = None,
    ) -> list[StoredEvent]:
        """Stored events with ``start <= timestamp < end`` (and ``seq > after_seq``), ordered by
        ``(timestamp, seq)``."""
        q = select(events).where(*self._event_filter(start, end, after_seq, model_version))
        q = q.order_by(events.c.timestamp, events.c.seq)
        if limit is not None:
            q = q.limit(limit)
        with self._engine.connect() as conn:
            return [
                StoredEvent(
                    seq=r.seq,
                    event_id=r.event_id,
                    timestamp=_aware(r.timestamp),
                    model_version=r.model_version,
                    inputs=json.loads(r.inputs),
                    prediction=json.loads(r.prediction),
                    probabilities=_loads(r.probabilities),
                    groups=_loads(r.groups),
                    latency_ms=r.latency_ms,
                    label=_loads(r.label),
                    received_at=_aware(r.received_at),
                )
                for r in conn.execute(q)
            ]

    def count_events(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        after_seq: int | None = None,
        *,
        model_version: str | None = None,
    ) -> int:
        q = select(func.count()).select_from(events)
        q = q.where(*self._event_filter(start, end, after_seq, model_version))
        with self._engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    @staticmethod
    def _event_filter(
        start: datetime | None, end: datetime | None, after_seq: int | None, version: str | None
    ) -> list[Any]:
        where: list[Any] = []
        if start is not None:
            where.append(events.c.timestamp >= _naive(start))
        if end is not None:
            where.append(events.c.timestamp < _naive(end))
        if after_seq is not None:
            where.append(events.c.seq > after_seq)
        if version is not None:
            where.append(events.c.model_version == version)
        return where

    def prune(self, older_than: datetime) -> int:
        """Delete raw events whose timestamp is before ``older_than``; windows and alerts are
        kept. Returns how many events were deleted."""
        with self._write() as conn:
            res = conn.execute(delete(events).where(events.c.timestamp < _naive(older_than)))
            return int(res.rowcount or 0)

    # --- windows and alerts ---------------------------------------------------------------------

    def claim_window(self, key: str, *, stale_after: timedelta | None = None) -> bool:
        """True for exactly one caller per ``key``, across every process sharing the database
        (a row in ``monitor_window_claims`` whose primary key is the window key).

        With ``stale_after``, a claim older than that whose window was never saved (its process
        died while scoring it) is taken over, again by exactly one caller.
        """
        now = _now()
        stmt = (
            self._insert(window_claims)
            .values(key=key, claimed_at=now, owner=self._owner)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(window_claims.c.key)
        )
        with self._write() as conn:
            if conn.execute(stmt).first() is not None:
                return True
            if stale_after is None:
                return False
            # One UPDATE whose WHERE re-checks the age: of two callers, the second finds the
            # claim fresh again (PostgreSQL re-evaluates it after the first one's commit).
            takeover = (
                update(window_claims)
                .where(
                    window_claims.c.key == key,
                    window_claims.c.claimed_at < now - stale_after,
                    ~select(windows.c.id).where(windows.c.key == key).exists(),
                )
                .values(claimed_at=now, owner=self._owner)
                .returning(window_claims.c.key)
            )
            return conn.execute(takeover).first() is not None

    def save_window(
        self,
        key: str,
        start: datetime,
        end: datetime,
        n_events: int,
        n_labelled: int,
        passed: bool | None,
        summary: dict[str, Any],
        report_json: str | None,
    ) -> int:
        """Store a scored window (a window saved again under its key, e.g. once labels arrived,
        replaces the earlier result and keeps its id). Returns the window's id."""
        values = {
            "start": _naive(start),
            "end": _naive(end),
            "n_events": n_events,
            "n_labelled": n_labelled,
            "passed": passed,
            "summary": _dumps(summary),
            "report_json": report_json,
            "created_at": _now(),
        }
        with self._write() as conn:
            found = conn.execute(select(windows.c.id).where(windows.c.key == key)).scalar()
            if found is not None:
                conn.execute(update(windows).where(windows.c.id == found).values(**values))
                return int(found)
            res = conn.execute(windows.insert().values(key=key, **values).returning(windows.c.id))
            return int(res.scalar_one())

    def windows(self, *, limit: int | None = None) -> list[WindowRow]:
        """Every window, oldest first, without its report (``limit``: the newest ones)."""
        cols = [c for c in windows.c if c.name != "report_json"]
        q = select(*cols).order_by(windows.c.start.desc(), windows.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        with self._engine.connect() as conn:
            rows = [self._window_row(r, None) for r in conn.execute(q)]
        return rows[::-1]

    def window(self, window_id: int) -> WindowRow | None:
        """One window with its report JSON, or None."""
        with self._engine.connect() as conn:
            r = conn.execute(select(windows).where(windows.c.id == window_id)).first()
        return None if r is None else self._window_row(r, r.report_json)

    def window_by_key(self, key: str) -> WindowRow | None:
        with self._engine.connect() as conn:
            r = conn.execute(select(windows).where(windows.c.key == key)).first()
        return None if r is None else self._window_row(r, r.report_json)

    @staticmethod
    def _window_row(r: Any, report_json: str | None) -> WindowRow:
        return WindowRow(
            id=r.id,
            key=r.key,
            start=_aware(r.start),
            end=_aware(r.end),
            n_events=r.n_events,
            n_labelled=r.n_labelled,
            passed=r.passed,
            summary=json.loads(r.summary),
            created_at=_aware(r.created_at),
            report_json=report_json,
        )

    def count_windows(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(windows)).scalar_one())

    def save_alert(
        self,
        gate: str,
        state: str,
        *,
        window_id: int | None = None,
        value: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """Store an alert (``state``: ``firing`` or ``resolved``). Returns its id."""
        if state not in ("firing", "resolved"):
            raise ValueError(f"alert state {state!r}: use 'firing' or 'resolved'")
        row = {
            "gate": gate,
            "state": state,
            "window_id": window_id,
            "value": value,
            "detail": None if detail is None else _dumps(detail),
            "created_at": _now(),
        }
        with self._write() as conn:
            return int(
                conn.execute(alerts.insert().values(**row).returning(alerts.c.id)).scalar_one()
            )

    def alerts(self, state: str | None = None, *, limit: int | None = None) -> list[AlertRow]:
        """Stored alerts, newest first (only those in ``state`` when given)."""
        q = select(alerts).order_by(alerts.c.id.desc())
        if state is not None:
            q = q.where(alerts.c.state == state)
        if limit is not None:
            q = q.limit(limit)
        with self._engine.connect() as conn:
            return [
                AlertRow(
                    id=r.id,
                    gate=r.gate,
                    state=r.state,
                    window_id=r.window_id,
                    value=r.value,
                    detail=_loads(r.detail),
                    created_at=_aware(r.created_at),
                )
                for r in conn.execute(q)
            ]

    def firing_gates(self) -> list[str]:
        """Gates whose latest alert is ``firing``."""
        latest = (
            select(alerts.c.gate, func.max(alerts.c.id).label("last")).group_by(alerts.c.gate)
        ).subquery()
        q = (
            select(alerts.c.gate)
            .join(latest, and_(alerts.c.gate == latest.c.gate, alerts.c.id == latest.c.last))
            .where(alerts.c.state == "firing")
        )
        with self._engine.connect() as conn:
            return [r[0] for r in conn.execute(q)]


def _sqlite_pragmas(engine: Engine, synchronous: str) -> None:
    """WAL, the chosen ``synchronous``, a busy timeout, and transactions that begin as SQLAlchemy
    says (writes with ``BEGIN IMMEDIATE``, so a reader never has to upgrade to a writer)."""
    if synchronous not in ("FULL", "NORMAL"):
        raise ConfigError(f"sqlite_synchronous {synchronous!r}: use FULL or NORMAL")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's begin event below emits BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
