"""The application factory: everything is built from settings here, nothing at import time."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from cartdesk import __version__
from cartdesk.config import Settings, get_settings
from cartdesk.db.engine import Database, create_database
from cartdesk.kit.http import install_error_handlers

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """Build the app. ``database`` lets tests hand in one bound to a rolled-back connection."""
    settings = settings or get_settings()
    database = database or create_database(settings.database_url)

    from cartdesk.realtime.hub import create_hub

    hub = create_hub(settings)
    from cartdesk.channels import registry as channels_registry
    from cartdesk.jobs import registry as jobs_registry
    from cartdesk.jobs.loop_runner import LoopRunner
    from cartdesk.jobs.runner import JobRunner, load_handlers

    channels_registry.configure(settings)
    from cartdesk.commerce import credentials as shop_credentials

    shop_credentials.configure(settings)
    from cartdesk.knowledge import semantic

    semantic.configure(settings)

    runner = JobRunner(database, settings=settings)
    # On SQLite the quick jobs (a reply's delivery) run on the event loop between requests,
    # the others in the runner's thread (jobs/loop_runner.py says why).
    quick_runner = LoopRunner(JobRunner(database, settings=settings, names=()))

    def wake_jobs(name: str | None = None) -> None:
        runner.wake(name)
        quick_runner.wake(name)

    # job_taker: while it runs, the loop's runner takes its jobs as they are enqueued.
    database.configure_info(event_sinks=[hub.publish_events], job_wakeup=wake_jobs, job_taker=quick_runner)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        database.start_background()
        if settings.run_jobs_in_process:
            if database.has_writer_turns:
                load_handlers()
                quick = jobs_registry.quick_names()
                runner.skip = quick
                quick_runner.runner.names = quick
                quick_runner.start()
            runner.start()
        try:
            yield
        finally:
            await quick_runner.stop()
            # Off the loop: the runner waits for the jobs in hand, and the loop keeps
            # serving WebSocket closes meanwhile.
            await anyio.to_thread.run_sync(runner.stop)
            await hub.stop()
            database.dispose()

    app = FastAPI(
        title="Cartdesk API",
        version=__version__,
        description="Customer support for online stores: conversations, customers and more.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.db = database
    app.state.hub = hub
    app.state.runner = runner
    app.state.quick_runner = quick_runner
    install_error_handlers(app)

    from cartdesk import observability

    observability.install(app)  # /healthz, /metrics and the request-metrics middleware

    from cartdesk.web import setup as web_setup

    web_setup.install(app, settings)  # sessions, CSRF, templates, /static, HTML error pages

    from cartdesk import routes as api_routes

    api_routes.include_all(app)
    return app


def create_served_app() -> FastAPI:
    """``cartdesk serve``'s factory (each web process calls it once): :func:`create_app`,
    then everything startup made frozen out of the garbage collector's full passes.

    A full (generation 2) collection walks every tracked object, and startup leaves about
    160,000 (the modules, the app, the ORM mappers): such a pass took 143 ms here while
    serving (45–160 ms at startup), the event loop stopped for all of it; frozen, 4–5 ms
    (docs/performance.md).
    Frozen objects are still freed by reference counting; only the cycle detector skips
    them, and they are built once and live as long as the process. Tests build many apps
    in one process and so use :func:`create_app`, unfrozen.
    """
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
