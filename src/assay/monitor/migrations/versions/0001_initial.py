"""The monitor's first schema: events, pending labels, window claims, windows, alerts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("timestamp", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("prediction", sa.Text, nullable=False),
        sa.Column("probabilities", sa.Text, nullable=True),
        sa.Column("groups", sa.Text, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=True),
        sa.Column("label", sa.Text, nullable=True),
        sa.Column("labelled_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("event_id", "model_version", name="uq_monitor_events_id_version"),
    )
    op.create_index("ix_monitor_events_timestamp", "monitor_events", ["timestamp", "seq"])
    op.create_table(
        "monitor_pending_labels",
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "monitor_window_claims",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
    )
    op.create_table(
        "monitor_windows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("n_events", sa.Integer, nullable=False),
        sa.Column("n_labelled", sa.Integer, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=True),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("report_json", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("gate", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("window_id", sa.Integer, nullable=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_monitor_alerts_state", "monitor_alerts", ["state", "id"])


def downgrade() -> None:
    op.drop_table("monitor_alerts")
    op.drop_table("monitor_windows")
    op.drop_table("monitor_window_claims")
    op.drop_table("monitor_pending_labels")
    op.drop_index("ix_monitor_events_timestamp", table_name="monitor_events")
    op.drop_table("monitor_events")
