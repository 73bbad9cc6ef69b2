"""Alembic's environment for the monitor: run by :meth:`assay.monitor._store.Store.migrate`, which
hands over its own connection (``config.attributes["connection"]``)."""

from __future__ import annotations

from alembic import context

from assay.monitor._tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the monitor always hands its connection over
    raise RuntimeError("run the monitor's migrations through Store.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table="monitor_alembic_version",
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
