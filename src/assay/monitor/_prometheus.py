"""The monitor's Prometheus metrics, in a registry of its own per app (two apps in one process never
share counters).

Counters count what this process did (ingest, duplicates, labels); gauges that describe the
database (events stored, labels pending, windows, alerts firing) are read from the store at each
scrape, so every process sharing one PostgreSQL database reports the same numbers.

The window worker adds its own gauges (drift, estimated and realised metrics) with
:meth:`MonitorMetrics.add_collector`, or by registering metrics on :attr:`MonitorMetrics.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from assay.monitor._store import Store

__all__ = ["CONTENT_TYPE", "MonitorMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StoreCollector(Collector):
    def __init__(self, store: Store, overdue_after: Callable[[], datetime]) -> None:
        self._store = store
        self._overdue_after = overdue_after

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self._store
        yield GaugeMetricFamily(
            "assay_monitor_events_stored", "Events in the database.", value=s.count_events()
        )
        yield GaugeMetricFamily(
            "assay_monitor_labels_pending",
            "Labels waiting for their event.",
            value=s.count_pending_labels(),
        )
        yield GaugeMetricFamily(
            "assay_monitor_labels_pending_overdue",
            "Labels waiting for their event for longer than the pending-label limit.",
            value=s.count_pending_labels(older_than=self._overdue_after()),
        )
        yield GaugeMetricFamily(
            "assay_monitor_windows", "Windows scored and stored.", value=s.count_windows()
        )
        yield GaugeMetricFamily(
            "assay_monitor_alerts_firing",
            "Gates whose latest alert is firing.",
            value=len(s.firing_gates()),
        )


class MonitorMetrics:
    """The app's metrics: ``registry`` is what ``/metrics`` exposes."""

    def __init__(self, store: Store, *, pending_limit_s: float) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events_ingested = Counter(
            "assay_monitor_events_ingested",
            "Events stored by this process (new ones only).",
            registry=self.registry,
        )
        self.events_duplicate = Counter(
            "assay_monitor_events_duplicate",
            "Events received again (same event_id and model_version) and not stored twice.",
            registry=self.registry,
        )
        self.labels_applied = Counter(
            "assay_monitor_labels_applied",
            "Labels applied to stored events by this process.",
            registry=self.registry,
        )
        self.labels_received_pending = Counter(
            "assay_monitor_labels_received_pending",
            "Labels received before their event and kept pending.",
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "assay_monitor_ingest_batch_seconds",
            "Time to validate and commit one POST /v1/events batch.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )

        def overdue_after() -> datetime:
            now = datetime.now(timezone.utc).timestamp()
            return datetime.fromtimestamp(now - pending_limit_s, timezone.utc)

        self.registry.register(_StoreCollector(store, overdue_after))

    def add_collector(self, collector: Collector) -> None:
        """Expose more metrics (the window worker's drift and performance gauges)."""
        self.registry.register(collector)

    def exposition(self) -> bytes:
        """The Prometheus text format of everything registered."""
        return generate_latest(self.registry)
