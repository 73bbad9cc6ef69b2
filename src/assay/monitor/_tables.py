"""The monitor's tables (SQLAlchemy Core). The schema itself is made by the Alembic migrations in
``monitor/migrations/``; a test checks that the migrated database and these tables agree.

Times are stored as naive UTC (``DateTime`` without a zone) on both SQLite and PostgreSQL, so that
ordering and comparison mean the same on both; :mod:`assay.monitor._store` attaches UTC on read.
JSON values (inputs, prediction, probabilities, groups, labels, summaries) are stored as text.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["alerts", "events", "metadata", "pending_labels", "window_claims", "windows"]

metadata = MetaData()

events = Table(
    "monitor_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(200), nullable=False),
    Column("model_version", String(200), nullable=False),
    Column("timestamp", DateTime(), nullable=False),
    Column("received_at", DateTime(), nullable=False),
    Column("inputs", Text, nullable=False),
    Column("prediction", Text, nullable=False),
    Column("probabilities", Text, nullable=True),
    Column("groups", Text, nullable=True),
    Column("latency_ms", Float, nullable=True),
    Column("label", Text, nullable=True),
    Column("labelled_at", DateTime(), nullable=True),
    UniqueConstraint("event_id", "model_version", name="uq_monitor_events_id_version"),
    Index("ix_monitor_events_timestamp", "timestamp", "seq"),
)

pending_labels = Table(
    "monitor_pending_labels",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("label", Text, nullable=False),
    Column("received_at", DateTime(), nullable=False),
)

window_claims = Table(
    "monitor_window_claims",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("claimed_at", DateTime(), nullable=False),
    Column("owner", String(200), nullable=False),
)

windows = Table(
    "monitor_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("start", DateTime(), nullable=False),
    Column("end", DateTime(), nullable=False),
    Column("n_events", Integer, nullable=False),
    Column("n_labelled", Integer, nullable=False),
    Column("passed", Boolean, nullable=True),
    Column("summary", Text, nullable=False),
    Column("report_json", Text, nullable=True),  # None: the window could not be scored
    Column("created_at", DateTime(), nullable=False),
)

alerts = Table(
    "monitor_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("gate", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("window_id", Integer, nullable=True),
    Column("value", Float, nullable=True),
    Column("detail", Text, nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Index("ix_monitor_alerts_state", "state", "id"),
)
