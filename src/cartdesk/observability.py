"""Health and metrics: GET /healthz for load balancers, GET /metrics for Prometheus.

Request metrics are kept by a plain ASGI middleware (no per-request task or
body wrapping as with BaseHTTPMiddleware): it times the call and records it
under the *route template* (``/api/v1/conversations/{conversation_id}``), never
the raw path, so label cardinality stays bounded whatever URLs clients invent.
The label children are cached, so a request costs a dict lookup, a counter
increment and a histogram observation.

Gauges that describe the database (jobs queued and failed, conversations by
status) are read when Prometheus scrapes, not maintained on every write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from time import perf_counter
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel
from sqlalchemy import func, select, text

from cartdesk.conversations.models import Conversation, Status
from cartdesk.db.engine import Database
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router

log = logging.getLogger(__name__)

# Seconds. Dense where our targets are (≤ 15 ms for most API calls, ≤ 100 ms search).
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"


class _DatabaseCollector:
    """Database-derived gauges, computed per scrape in one short read transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def describe(self) -> list[GaugeMetricFamily]:
        # Registering must not query the database (nothing connects while the app is built).
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("cartdesk_database_up", "1 when the database answered the last scrape")
        try:
            with self.database.transaction(read_only=True) as session:
                jobs = dict(
                    session.execute(
                        select(Job.status, func.count())
                        .where(Job.status.in_([JobStatus.queued, JobStatus.failed]))
                        .group_by(Job.status)
                    ).all()
                )
                # Grouped over the (status, last_activity_at, id) index: an index-only count.
                conversations = dict(
                    session.execute(select(Conversation.status, func.count()).group_by(Conversation.status)).all()
                )
        except Exception:
            log.exception("metrics: database query failed")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        job_gauge = GaugeMetricFamily("cartdesk_jobs", "Background jobs by status", labels=["status"])
        for status in (JobStatus.queued, JobStatus.failed):
            job_gauge.add_metric([str(status)], jobs.get(str(status), 0))
        yield job_gauge
        conv_gauge = GaugeMetricFamily("cartdesk_conversations", "Conversations by status", labels=["status"])
        for status in Status:
            conv_gauge.add_metric([str(status)], conversations.get(str(status), 0))
        yield conv_gauge


class Metrics:
    """One registry per app (tests build many apps; the global registry would clash)."""

    def __init__(self, database: Database) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cartdesk_http_requests", "HTTP requests by route template and status",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "cartdesk_http_request_duration_seconds", "HTTP request latency by route template and status",
            ["method", "route", "status"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.registry.register(_DatabaseCollector(database))  # type: ignore[arg-type]
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = self._children[key] = (self.requests.labels(*labels), self.latency.labels(*labels))
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._paths_by_endpoint: dict[Any, str] | None = None

    def _template(self, scope: dict[str, Any]) -> str:
        # API routes leave themselves in scope["route"]; plain Starlette routes (the
        # OpenAPI and docs pages) leave only their endpoint, looked up once in a table.
        path = getattr(scope.get("route"), "path", None)
        if path is not None:
            return path
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNMATCHED
        if self._paths_by_endpoint is None:
            routes = getattr(scope.get("app"), "routes", [])
            self._paths_by_endpoint = {r.endpoint: r.path for r in routes if hasattr(r, "endpoint")}
        return self._paths_by_endpoint.get(endpoint, UNMATCHED)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            self.metrics.observe(scope["method"], self._template(scope), status, perf_counter() - start)


class Health(BaseModel):
    status: str


router = Router(tags=["operations"])


@router.get(
    "/healthz", response_model=Health, summary="Health check",
    responses={503: {"model": Health, "description": "The database does not answer"}},
)
def healthz(request: Request) -> Any:
    """200 `{"status": "ok"}` when the app can reach its database, else 503 `{"status": "unavailable"}`."""
    try:
        with request.app.state.db.transaction(read_only=True) as session:
            session.execute(text("SELECT 1"))
    except Exception:
        log.exception("health check: database unreachable")
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return Health(status="ok")


@router.get(
    "/metrics", response_class=Response, summary="Prometheus metrics",
    responses={200: {"description": "Prometheus text exposition format", "content": {CONTENT_TYPE_LATEST: {}}},
               **error_responses(503)},
)
def metrics(request: Request) -> Response:
    """Request counts and latency per route template and status, jobs queued and failed, and
    conversations by status, in the Prometheus text format."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Add the request-metrics middleware and the /healthz and /metrics routes."""
    app.state.metrics = Metrics(app.state.db)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.include_router(router)
