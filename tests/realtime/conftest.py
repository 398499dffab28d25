from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.orm import Session

from cartdesk.config import Settings
from cartdesk.db.engine import Database


@dataclass
class SerialDatabase(Database):
    """``bound_db``'s one connection, used by one thread at a time.

    Live connections make the app touch the database from several threads at once
    (a request committing while a WebSocket checks what its agent may see); one
    connection cannot interleave two transactions' savepoints, a pool would give
    each its own connection.
    """

    lock: Any = field(default_factory=threading.RLock)

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        with self.lock, super().transaction(read_only=read_only) as session:
            yield session


@pytest.fixture
def app(settings: Settings, bound_db: Database):  # type: ignore[no-untyped-def]
    from cartdesk.app import create_app

    serial = SerialDatabase(engine=bound_db.engine, sessionmaker=bound_db.sessionmaker,
                            read_sessionmaker=bound_db.read_sessionmaker)
    return create_app(settings, database=serial)
