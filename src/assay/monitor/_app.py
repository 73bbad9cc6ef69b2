"""The monitor's HTTP API (FastAPI): ingest events and labels, read windows, reports, alerts and
metrics.

Security: every endpoint but ``/healthz`` and the ``/login`` form needs a bearer token with the
endpoint's scope (no token or an unknown one: 401; a token without the scope: 403). Pages a browser
opens (``/docs``, a window's ``report.html``, the dashboard) and the other ``GET`` endpoints also
take the read token from the HttpOnly cookie that ``/login`` sets; ``POST`` endpoints take the
``Authorization`` header only, so another site cannot make a signed-in browser post events. A body
over the configured size is refused with 413 before it is read in full; a batch over the limit
and any invalid field are 422 with the field's path. Nothing here logs a token or an input.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay._version import __version__
from assay.monitor._config import MonitorSettings, TokenSet
from assay.monitor._prometheus import CONTENT_TYPE, MonitorMetrics
from assay.monitor._schema import IngestResponse, LabelResponse, batch_models
from assay.monitor._store import Store
from assay.report import Report, render_html

__all__ = ["COOKIE", "create_app"]

log = logging.getLogger("assay.monitor")

#: The cookie ``/login`` sets (HttpOnly, SameSite=Strict) and read endpoints accept.
COOKIE = "assay_monitor_token"

_bearer = HTTPBearer(auto_error=False, description="A monitor token (scopes: ingest, read, admin).")


class _BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413: at once when ``Content-Length`` says
    so, else as soon as the chunks read so far pass it. The body is read here (it would be read in
    full by the endpoint anyway) and handed on."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                await _plain(send, 400, "invalid Content-Length")
                return
            if too_big:
                await _plain(send, 413, f"request body over {self.limit} bytes")
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _plain(send, 413, f"request body over {self.limit} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _plain(send: Send, status: int, detail: str) -> None:
    body = ('{"detail":"' + detail + '"}').encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _auth(
    tokens: TokenSet, scope: str, *, cookie: bool
) -> Callable[..., Awaitable[frozenset[str]]]:
    """A dependency that lets a request through only with a token of ``scope``."""

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> frozenset[str]:
        token = credentials.credentials if credentials is not None else None
        if token is None and cookie:
            token = request.cookies.get(COOKIE)
        if not token and cookie and "text/html" in request.headers.get("accept", ""):
            # a browser opening a page: to the login form, and back here after it
            target = quote(request.url.path, safe="/")
            raise HTTPException(303, "sign in", headers={"Location": f"/login?next={target}"})
        if not token:
            raise HTTPException(
                401, "a bearer token is needed", headers={"WWW-Authenticate": "Bearer"}
            )
        scopes = tokens.scopes(token)
        if scopes is None:
            raise HTTPException(
                401, "the token is not known", headers={"WWW-Authenticate": "Bearer"}
            )
        if scope not in scopes:
            raise HTTPException(403, f"the token lacks the {scope!r} scope")
        return scopes

    return check


def create_app(
    settings: MonitorSettings,
    store: Store,
    *,
    tokens: TokenSet | None = None,
    on_ingest: Callable[[], None] | None = None,
) -> FastAPI:
    """The monitor's FastAPI app over ``store``.

    Args:
        settings: limits, the pending-label limit and where tokens come from.
        store: a migrated :class:`Store`.
        tokens: the known tokens (default: :meth:`TokenSet.load` of ``settings``).
        on_ingest: called after each committed batch of events or labels (the window worker's
            nudge); it must return quickly, and an error in it never fails the request.

    Returns:
        The app; ``app.state`` holds ``store``, ``settings``, ``metrics`` (:class:`MonitorMetrics`)
        and ``read_page`` (the dependency that guards browser pages: header or cookie).
    """
    tokens = tokens if tokens is not None else TokenSet.load(settings)
    metrics = MonitorMetrics(store, pending_limit_s=settings.pending_label_delta.total_seconds())
    EventBatch, LabelBatch = batch_models(settings.limits.max_batch)
    ingest = Depends(_auth(tokens, "ingest", cookie=False))
    admin = Depends(_auth(tokens, "admin", cookie=False))
    read_page = _auth(tokens, "read", cookie=True)
    read = Depends(read_page)

    app = FastAPI(
        title="assay monitor",
        version=__version__,
        description="Production traffic in, windows scored by the suite's checks and gates out.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(_BodyLimit, limit=settings.limits.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's reply echoes each bad field's `input` (for a too-long batch, the whole batch):
        # the path, the message and the limits say what to fix without sending inputs back.
        errors = [
            {k: v for k, v in err.items() if k in ("type", "loc", "msg", "ctx")}
            for err in exc.errors()[:100]
        ]
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    app.state.store = store
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.read_page = read_page

    def nudge() -> None:
        if on_ingest is None:
            return
        try:
            on_ingest()
        except Exception as exc:  # the batch is committed: the worker's trouble is its own
            log.error("on_ingest failed: %s", type(exc).__name__)

    # The two batch bodies are read by pydantic straight from the bytes (one pass in Rust:
    # FastAPI's json.loads then validate_python took twice as long for a batch of 500), so they
    # are documented by hand in the OpenAPI schema (`_openapi` below).
    async def read_batch(request: Request, model: type[BaseModel]) -> Any:
        kind = request.headers.get("content-type", "")
        if not (kind.startswith("application/json") or kind.endswith("+json")):
            raise HTTPException(415, "send the batch as JSON (Content-Type: application/json)")
        body = await request.body()
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from None

    def body_doc(name: str) -> dict[str, Any]:
        return {
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                },
            }
        }

    @app.post(
        "/v1/events",
        response_model=IngestResponse,
        dependencies=[ingest],
        tags=["ingest"],
        openapi_extra=body_doc("EventBatch"),
    )
    async def post_events(request: Request) -> IngestResponse:
        """Store a batch of events. Idempotent by (event_id, model_version): a re-sent event is
        counted as a duplicate and stored once. The reply comes after the batch is committed."""
        batch = await read_batch(request, EventBatch)
        t0 = time.perf_counter()
        result = await run_in_threadpool(store.add_events, batch.events)
        metrics.batch_seconds.observe(time.perf_counter() - t0)
        metrics.events_ingested.inc(result.n_new)
        metrics.events_duplicate.inc(result.n_duplicate)
        await run_in_threadpool(nudge)
        return IngestResponse(
            n_received=result.n_new + result.n_duplicate,
            n_new=result.n_new,
            n_duplicate=result.n_duplicate,
        )

    @app.post(
        "/v1/labels",
        response_model=LabelResponse,
        dependencies=[ingest],
        tags=["ingest"],
        openapi_extra=body_doc("LabelBatch"),
    )
    async def post_labels(request: Request) -> LabelResponse:
        """Delayed ground truth, applied to every model version of each event; a label whose
        event has not arrived is kept pending until it does."""
        batch = await read_batch(request, LabelBatch)
        result = await run_in_threadpool(store.add_labels, batch.labels)
        metrics.labels_applied.inc(result.n_applied)
        metrics.labels_received_pending.inc(result.n_pending)
        await run_in_threadpool(nudge)
        return LabelResponse(
            n_received=len(batch.labels),
            n_applied=result.n_applied,
            n_pending=result.n_pending,
        )

    @app.get("/v1/labels/pending", dependencies=[read], tags=["read"])
    def get_pending(
        limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
    ) -> dict[str, Any]:
        """Labels still waiting for their event: how many, how many are overdue (older than the
        pending-label limit), and the oldest ``limit`` of them."""
        cutoff = datetime.now(timezone.utc) - settings.pending_label_delta
        pending = store.pending_labels()
        return {
            "n_pending": len(pending),
            "n_overdue": sum(p.received_at < cutoff for p in pending),
            "overdue_after_s": settings.pending_label_delta.total_seconds(),
            "labels": [
                {
                    "event_id": p.event_id,
                    "received_at": p.received_at.isoformat(),
                    "overdue": p.received_at < cutoff,
                }
                for p in pending[:limit]
            ],
        }

    @app.get("/v1/windows", dependencies=[read], tags=["read"])
    def get_windows(
        limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    ) -> list[dict[str, Any]]:
        """Every scored window's summary, oldest first (``limit``: the newest ones)."""
        return [
            {
                **w.summary,
                "id": w.id,
                "key": w.key,
                "start": w.start.isoformat(),
                "end": w.end.isoformat(),
                "n_events": w.n_events,
                "n_labelled": w.n_labelled,
                "passed": w.passed,
            }
            for w in store.windows(limit=limit)
        ]

    def _window(window_id: int) -> str:
        row = store.window(window_id) if 0 < window_id < 2**31 else None
        if row is None:
            raise HTTPException(404, f"no window {window_id}")
        if row.report_json is None:
            why = (row.summary or {}).get("error", "it was not scored")
            raise HTTPException(409, f"window {window_id} has no report: {why}")
        return row.report_json

    @app.get("/v1/windows/{window_id}", dependencies=[read], tags=["read"])
    def get_window(window_id: int) -> Response:
        """The window's Report (the same schema as ``assay run``'s report.json)."""
        return Response(_window(window_id), media_type="application/json")

    @app.get(
        "/v1/windows/{window_id}/report.html",
        dependencies=[read],
        response_class=HTMLResponse,
        tags=["read"],
    )
    def get_window_html(window_id: int) -> HTMLResponse:
        """The window's Report as assay's HTML report."""
        report = Report.model_validate_json(_window(window_id))
        return HTMLResponse(render_html(report))

    @app.get("/v1/alerts", dependencies=[read], tags=["read"])
    def get_alerts(
        state: Annotated[str | None, Query(pattern="^(firing|resolved)$")] = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    ) -> list[dict[str, Any]]:
        """Stored alerts, newest first."""
        return [
            {
                "id": a.id,
                "gate": a.gate,
                "state": a.state,
                "window_id": a.window_id,
                "value": a.value,
                "detail": a.detail,
                "created_at": a.created_at.isoformat(),
            }
            for a in store.alerts(state, limit=limit)
        ]

    @app.post("/v1/admin/prune", dependencies=[admin], tags=["admin"])
    def post_prune(
        older_than_s: Annotated[float, Query(gt=0, le=1e10)],
    ) -> dict[str, int]:
        """Delete raw events older than ``older_than_s`` seconds (windows and alerts are kept)."""
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=older_than_s)
        return {"n_deleted": store.prune(cutoff)}

    @app.get("/metrics", dependencies=[read], tags=["read"], response_class=Response)
    def get_metrics() -> Response:
        """Prometheus text format."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    @app.get("/healthz", tags=["open"])
    def healthz() -> dict[str, str]:
        """Liveness and the database's reachability (no token needed)."""
        try:
            store.count_windows()
        except Exception as exc:
            log.error("health check: the database is unreachable (%s)", type(exc).__name__)
            return JSONResponse({"status": "database unreachable"}, status_code=503)  # type: ignore[return-value]
        return {"status": "ok"}

    _login_routes(app, tokens)

    def _openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (EventBatch, LabelBatch):
                doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(doc.pop("$defs", {}))
                components[model.__name__] = doc
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = _openapi  # type: ignore[method-assign]

    @app.get("/openapi.json", dependencies=[read], include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", dependencies=[read], include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="assay monitor")

    return app


_LOGIN = """<!doctype html><html><head><meta charset="utf-8"><title>assay monitor: sign in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto}}
input{{width:100%;padding:.4rem;margin:.3rem 0}}</style></head><body>
<h1>assay monitor</h1><p>{message}</p>
<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<label>Read token <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></body></html>"""


def _safe_next(value: str | None) -> str:
    """Only a path on this server (no ``//host`` or ``scheme:``), so the form is no open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/dashboard"
    return value


def _login_routes(app: FastAPI, tokens: TokenSet) -> None:
    @app.get("/login", response_class=HTMLResponse, tags=["open"])
    def login_form(next: str | None = None) -> HTMLResponse:
        """A form that takes a read token and keeps it in an HttpOnly cookie for browser pages."""
        return HTMLResponse(
            _LOGIN.format(message="Sign in with a read token.", next=html.escape(_safe_next(next)))
        )

    form_schema = {
        "type": "object",
        "properties": {"token": {"type": "string"}, "next": {"type": "string"}},
        "required": ["token"],
    }

    @app.post(
        "/login",
        tags=["open"],
        response_class=HTMLResponse,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/x-www-form-urlencoded": {"schema": form_schema}},
            }
        },
    )
    async def login(request: Request) -> Response:
        """Check the form's token (read scope) and set the cookie."""
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            raise HTTPException(415, "send the login form (application/x-www-form-urlencoded)")
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0]
        target = _safe_next(form["next"][0] if form.get("next") else None)
        scopes = tokens.scopes(token)
        if scopes is None or "read" not in scopes:
            page = _LOGIN.format(
                message="That token is not known or cannot read.", next=html.escape(target)
            )
            return HTMLResponse(page, status_code=401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=12 * 3600,
        )
        return response

    @app.post("/logout", tags=["open"])
    def logout() -> Response:
        """Forget the cookie."""
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response
