"""In one process, SQLite writers queue on a lock and never meet SQLITE_BUSY."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import event, text

from cartdesk.db.engine import create_database


def test_in_process_writers_queue_instead_of_meeting_a_busy_database(tmp_path: Path) -> None:
    database = create_database(f"sqlite:///{tmp_path}/w.db")

    # With no busy timeout, a second BEGIN IMMEDIATE while another connection writes
    # fails at once with "database is locked" — unless the writers queue in-process.
    @event.listens_for(database.engine, "connect")
    def _no_busy_wait(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))

    first_holds = threading.Event()
    release_first = threading.Event()
    order: list[str] = []
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with database.transaction() as s:
                s.execute(text("INSERT INTO t VALUES (1)"))
                first_holds.set()
                release_first.wait(5)
                order.append("first commits")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def second() -> None:
        try:
            with database.transaction() as s:
                s.execute(text("INSERT INTO t VALUES (2)"))  # the session BEGINs here
                order.append("second wrote")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    a = threading.Thread(target=first)
    a.start()
    assert first_holds.wait(5)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.3)
    assert b.is_alive()  # waiting for the first writer, not failing
    release_first.set()
    a.join(5)
    b.join(5)
    assert errors == []
    assert order == ["first commits", "second wrote"]
    with database.transaction(read_only=True) as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == 2

    # Readers never wait for the writer lock.
    with database.transaction() as writer:
        writer.execute(text("INSERT INTO t VALUES (3)"))
        with database.transaction(read_only=True) as reader:
            assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    database.dispose()
