"""The request boundary: one session per request, committed once when the handler returns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session


def request_session(request: Request) -> Iterator[Session]:
    # Reads begin a deferred transaction on SQLite so that they never queue behind writers.
    read_only = request.method in ("GET", "HEAD", "OPTIONS")
    with request.app.state.db.transaction(read_only=read_only) as session:
        yield session


DbSession = Annotated[Session, Depends(request_session)]
