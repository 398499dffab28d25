"""Running Cartdesk: the web server, migrations and background workers."""

import logging
from typing import Annotated

import typer

from cartdesk.cli.common import err, load_settings, open_database, out, safe_url


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Web processes. More than one needs PostgreSQL "
                                         "or tolerates SQLite's single writer.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart when source files change (development).")] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request line.")] = True,
    ws: Annotated[str, typer.Option(help="uvicorn's WebSocket implementation: auto (websockets-sansio when "
                                    "installed, else uvicorn's default), websockets-sansio, websockets, "
                                    "wsproto.")] = "auto",
    ws_deflate: Annotated[bool, typer.Option(help="Offer permessage-deflate on WebSockets. Off by default: "
                                             "chat frames are small JSON, and the compressor state costs "
                                             "tens of KB per idle socket (docs/performance.md).")] = False,
) -> None:
    """Serve the web app and the REST API (docs at /docs) with uvicorn."""
    import uvicorn

    settings = load_settings()
    # Fail here, in one readable line, rather than in every worker process.
    open_database(settings).dispose()
    if reload and workers > 1:
        err.print("--reload runs a single process; ignoring --workers.")
        workers = 1
    err.print(f"Cartdesk on http://{host}:{port}  (database {safe_url(settings)})")
    # loop/http "auto" pick uvloop and httptools, which uvicorn[standard] installs:
    # the fast event loop and parser, with TCP_NODELAY on every connection.
    uvicorn.run(
        "cartdesk.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        loop="auto",
        http="auto",
        ws=pick_ws(ws),
        ws_per_message_deflate=ws_deflate,
        access_log=access_log,
        log_level=settings.log_level.lower(),
    )


WS_CHOICES = ("auto", "websockets-sansio", "websockets", "wsproto")


def pick_ws(choice: str) -> str:
    """The lighter sans-I/O websockets protocol holds an idle widget socket in about half the
    memory of uvicorn's default (docs/performance.md); older uvicorn/websockets lack it, so
    "auto" falls back to uvicorn's own choice."""
    if choice not in WS_CHOICES:
        raise typer.BadParameter(f"use one of {', '.join(WS_CHOICES)}", param_hint="--ws")
    if choice != "auto":
        return choice
    try:
        import uvicorn.protocols.websockets.websockets_sansio_impl  # noqa: F401
    except ImportError:
        return "auto"
    return "websockets-sansio"


def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head) and print its revision."""
    from cartdesk.db.migrate import current_revision, upgrade

    settings = load_settings()
    database = open_database(settings, require_schema=False)
    try:
        before = current_revision(database.engine)
        upgrade(database.engine)
        after = current_revision(database.engine)
    finally:
        database.dispose()
    if before == after:
        err.print(f"Database {safe_url(settings)} is up to date.")
    else:
        err.print(f"Migrated {safe_url(settings)} from {before or 'an empty database'} to {after}.")
    out.print(f"revision {after}")


def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs run at the same time in this process.")] = 4,
) -> None:
    """Run background jobs (delivery, retries) until interrupted.

    Needed when CARTDESK_RUN_JOBS_IN_PROCESS=false, e.g. with several web processes.
    """
    from cartdesk.channels import registry as channels_registry
    from cartdesk.commerce import credentials as shop_credentials
    from cartdesk.jobs.runner import run_worker

    settings = load_settings()
    channels_registry.configure(settings)
    shop_credentials.configure(settings)
    open_database(settings).dispose()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    err.print(f"Worker started with concurrency {concurrency} on {safe_url(settings)}. Ctrl+C stops it.")
    run_worker(settings, concurrency=concurrency)
