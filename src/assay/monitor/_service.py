"""The monitor as one service: the API of :mod:`assay.monitor._app` plus what runs behind it —
the window worker (scores each closed window with the suite and raises alerts), the webhook
sender, the dashboard page, the live shadow comparison and the window gauges of ``/metrics``.

:func:`start_monitor` builds all of it over one store; :func:`assay.monitor.serve` runs it
with uvicorn.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from assay._runner._shadow import shadow_report
from assay._runner._suite import load_suite
from assay.errors import AssayError, ConfigError
from assay.monitor._alerts import AlertBook, WebhookSender
from assay.monitor._app import create_app
from assay.monitor._config import MonitorSettings, TokenSet, parse_duration
from assay.monitor._dashboard import render_dashboard
from assay.monitor._store import Store
from assay.monitor._windows import events_frame
from assay.monitor._worker import WindowWorker

__all__ = ["MonitorService", "require_files", "start_monitor"]


@dataclass
class MonitorService:
    """What :func:`start_monitor` built; :meth:`stop` ends the background threads."""

    app: FastAPI
    store: Store
    worker: WindowWorker
    sender: WebhookSender | None

    def stop(self) -> None:
        self.worker.stop()
        if self.sender is not None:
            self.sender.stop()


def require_files(suite_path: Path, reference_path: Path) -> None:
    """Refuse a suite or reference path that is not a file, naming the flag."""
    for path, flag in ((suite_path, "--suite"), (reference_path, "--reference")):
        if not path.is_file():
            raise ConfigError(f"{flag} {path}: no such file; give the path of an existing file")


def start_monitor(
    settings: MonitorSettings,
    suite_path: str | Path,
    reference_path: str | Path,
    *,
    store: Store,
    tokens: TokenSet | None = None,
    start_worker: bool = True,
) -> MonitorService:
    """The monitor's app over ``store``, its window worker started (unless ``start_worker`` is
    false: a test drives :meth:`WindowWorker.run_once` itself).

    Raises:
        ConfigError: the suite does not load, the reference cannot be read, no tokens.
    """
    suite_path, reference_path = Path(suite_path), Path(reference_path)
    require_files(suite_path, reference_path)
    suite = load_suite(suite_path)
    sender = WebhookSender(settings.webhook_url).start() if settings.webhook_url else None
    book = AlertBook(store, sender.send if sender is not None else None)
    worker = WindowWorker(
        store,
        settings,
        suite,
        reference_path,
        alerts=book,
        model_version=settings.production_version,
        rescore_interval_s=parse_duration(
            settings.window.rescore_every, what="window.rescore_every"
        ).total_seconds(),
    )
    app = create_app(
        settings, store, tokens=tokens or TokenSet.load(settings), on_ingest=worker.poke
    )
    app.state.worker = worker
    _dashboard_routes(app, store, title=f"assay monitor — {suite.name}")
    _shadow_route(app, store, settings)
    app.state.metrics.add_collector(_WindowCollector(store))
    if start_worker:
        worker.start()
    return MonitorService(app=app, store=store, worker=worker, sender=sender)


def _dashboard_routes(app: FastAPI, store: Store, *, title: str) -> None:
    read_page = Depends(app.state.read_page)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)  # browsers ask; no icon, and no 404 in their console

    @app.get("/dashboard", dependencies=[read_page], response_class=HTMLResponse, tags=["read"])
    def dashboard() -> HTMLResponse:
        """Every window over time: drift, estimated and realised metrics, groups, latency,
        alerts; each window's full report one click away."""
        summaries = [
            {**w.summary, "id": w.id, "start": w.start.isoformat(), "end": w.end.isoformat(),
             "n_events": w.n_events, "n_labelled": w.n_labelled, "passed": w.passed}
            for w in store.windows()
        ]  # fmt: skip
        alerts = [
            {"gate": a.gate, "state": a.state, "window_id": a.window_id,
             "started_at": a.created_at.isoformat(), "value": a.value}
            for a in store.alerts()
        ]  # fmt: skip
        page = render_dashboard(
            summaries, alerts, title=title, report_url=lambda i: f"/v1/windows/{i}/report.html"
        )
        return HTMLResponse(page)


def _shadow_route(app: FastAPI, store: Store, settings: MonitorSettings) -> None:
    read = Depends(app.state.read_page)

    @app.get("/v1/shadow", dependencies=[read], tags=["read"])
    def shadow(
        candidate: Annotated[str, Query(min_length=1, max_length=200)],
        production: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        since: Annotated[str | None, Query(description="e.g. 7d: only events this recent")] = None,
        gate: Annotated[
            list[str] | None, Query(description="e.g. shadow.agreement.lower >= 0.9")
        ] = None,
    ) -> Response:
        """A candidate model version's predictions compared live with production's on the same
        events (agreement, paired metric differences where labels arrived, latency): the Report
        of ``assay shadow``, as JSON."""
        production = production or settings.production_version
        if production is None:
            raise HTTPException(
                422,
                "name the production version: ?production=<model_version> (or set "
                "production_version in the monitor settings)",
            )
        try:
            start = (
                datetime.now(timezone.utc) - parse_duration(since, what="since") if since else None
            )
        except ConfigError as exc:
            raise HTTPException(422, str(exc)) from None
        frames = {
            v: events_frame(store.events(start=start, model_version=v))
            for v in (production, candidate)
        }
        for version, frame in frames.items():
            if frame.empty:
                raise HTTPException(404, f"no events of model_version {version!r}")
        try:
            report = shadow_report(
                frames[production], frames[candidate], gates=gate or (), name="shadow (live)"
            )
        except AssayError as exc:  # a bad gate expression, tables that cannot be compared
            raise HTTPException(422, str(exc)) from None
        return Response(report.model_dump_json(), media_type="application/json")


class _WindowCollector(Collector):
    """The latest scored window's numbers as gauges: drift share, CBPE's estimates, the realised
    metrics, latency, and whether its gates passed (read from the store at each scrape)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        latest = self._store.windows(limit=1)
        if not latest:
            return
        w = latest[-1]
        s = w.summary
        drift = s.get("drift") or {}
        if drift.get("share_drifted") is not None:
            yield _gauge("assay_monitor_window_drift_share", "Share of drifted columns in the "
                         "latest window.", drift["share_drifted"])  # fmt: skip
        for kind in ("estimated", "realised"):
            family = GaugeMetricFamily(
                f"assay_monitor_window_{kind}",
                f"The latest window's {kind} metrics (value and interval bounds).",
                labels=["metric", "bound"],
            )
            for metric, est in (s.get(kind) or {}).items():
                for bound in ("value", "lower", "upper"):
                    v = est.get(bound)
                    if isinstance(v, (int, float)) and math.isfinite(v):
                        family.add_metric([metric, bound], float(v))
            yield family
        latency = s.get("latency") or {}
        family = GaugeMetricFamily(
            "assay_monitor_window_latency_ms", "The latest window's latency percentiles.",
            labels=["quantile"],
        )  # fmt: skip
        for q in ("p50", "p95", "p99"):
            v = latency.get(f"{q}_ms")
            if isinstance(v, (int, float)) and math.isfinite(v):
                family.add_metric([q], float(v))
        yield family
        if w.passed is not None:
            yield _gauge("assay_monitor_window_passed", "1 when the latest window passed every "
                         "decided gate, 0 when one failed.", 1.0 if w.passed else 0.0)  # fmt: skip
        age = (datetime.now(timezone.utc) - w.end).total_seconds()
        yield _gauge("assay_monitor_window_age_seconds", "Seconds since the latest window ended.",
                     max(age, 0.0))  # fmt: skip


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)
