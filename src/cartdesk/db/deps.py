"""The request boundary: one session per request, committed once when the handler returns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session


async def request_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed (or rolled back) when the handler is done.

    This is deliberately ``async def`` although the session is synchronous: FastAPI
    runs every *sync* dependency and endpoint through a thread pool, and on this
    2-core machine that hand-off alone capped a do-nothing endpoint at ~840 req/s
    (against ~4,000 req/s for ``async def``; docs/performance.md). Our queries are
    short and CPU-bound, so hot API routes run them on the event loop directly;
    slow work (password hashing, uploads, outbound HTTP) goes to a thread explicitly.
    """
    # Reads begin a deferred transaction on SQLite so that they never queue behind writers.
    read_only = request.method in ("GET", "HEAD", "OPTIONS")
    database = request.app.state.db
    if read_only:
        with database.transaction(read_only=True) as session:
            yield session
        return
    # A writer waits for SQLite's one write lock here, awaiting, so that the event loop
    # serves everyone else meanwhile; its transaction then begins holding it.
    async with database.writer_turn():
        with database.transaction() as session:
            yield session


# scope="function": the transaction ends (commits) before the response is sent, so a
# client never sees 201 for a change that then fails to commit, and on SQLite the
# write lock is never held across the await of sending a response.
DbSession = Annotated[Session, Depends(request_session, scope="function")]
