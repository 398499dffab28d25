"""In one process, SQLite writers queue on a lock and never meet SQLITE_BUSY."""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from cartdesk.db.deps import DbSession  # module level: FastAPI resolves the annotations here
from cartdesk.db.engine import _WRITERS, Database, create_database


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


def test_the_writer_lock_goes_to_the_writer_that_waited_not_back_to_the_one_that_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The job runner releasing the lock and asking again at once (its next job) must
    # queue behind a request that was already waiting, not take the lock straight back.
    from cartdesk.db import engine as engine_module

    queued = threading.Event()

    class _Waiters(deque):  # type: ignore[type-arg]
        def append(self, gate: object) -> None:
            super().append(gate)
            queued.set()

    class _ObservedLock(engine_module._FairLock):
        def __init__(self) -> None:
            super().__init__()
            self._waiters = _Waiters()

    monkeypatch.setattr(engine_module, "_FairLock", _ObservedLock)
    database = create_database(f"sqlite:///{tmp_path}/fair.db")
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (who TEXT)"))

    holding = threading.Event()
    go_on = threading.Event()
    order: list[str] = []

    def runner() -> None:
        with database.transaction() as s:
            s.execute(text("INSERT INTO t VALUES ('runner 1')"))
            holding.set()
            go_on.wait(5)
        # Straight on to the next job, with the GIL still ours.
        with database.transaction() as s:
            s.execute(text("INSERT INTO t VALUES ('runner 2')"))
            order.append("runner 2")

    def request() -> None:
        with database.transaction() as s:
            s.execute(text("INSERT INTO t VALUES ('request')"))
            order.append("request")

    a = threading.Thread(target=runner)
    a.start()
    assert holding.wait(5)
    b = threading.Thread(target=request)
    b.start()
    assert queued.wait(5)  # the request waits in line behind the runner's first job
    go_on.set()
    a.join(5)
    b.join(5)
    assert order == ["request", "runner 2"]
    database.dispose()


def test_a_writer_that_waits_too_long_for_the_lock_leaves_the_queue() -> None:
    from cartdesk.db.engine import _FairLock

    lock = _FairLock()
    assert lock.acquire(timeout=1)
    assert lock.acquire(timeout=0.05) is False  # gave up; it must not be handed the lock later
    lock.release()
    assert lock.acquire(timeout=0.05)  # free again, not owed to the one that left
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(lock.acquire(timeout=5)))
    waiter.start()
    waiter.join(0.1)
    lock.release()  # handed to the waiter
    waiter.join(5)
    assert got == [True]
    assert lock.acquire(timeout=0.05) is False  # the waiter holds it now
    lock.release()


_OTHER_PROCESS_WRITER = """
import sys
from sqlalchemy import event, text
from cartdesk.db.engine import create_database

database = create_database(sys.argv[1])

@event.listens_for(database.engine, "connect")
def _no_busy_wait(dbapi_connection, _record):
    dbapi_connection.execute("PRAGMA busy_timeout=0")

with database.transaction() as s:
    s.execute(text("INSERT INTO t VALUES ('other process')"))
print("wrote")
"""


def test_writers_in_two_processes_take_turns_on_the_file_lock_not_through_a_busy_database(tmp_path: Path) -> None:
    # A web process and a `cartdesk worker` on one SQLite file: the second writer waits
    # on the shared file lock (<database>-writers) and goes on when the first commits,
    # instead of meeting SQLITE_BUSY (here, with no busy timeout, at once an error).
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path}/two.db"
    database = create_database(url)
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (who TEXT)"))
    with database.transaction() as s:
        s.execute(text("INSERT INTO t VALUES ('this process')"))
        other = subprocess.Popen([sys.executable, "-c", _OTHER_PROCESS_WRITER, url],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            other.wait(timeout=3)  # started, and waiting for this transaction to end
    out, err = other.communicate(timeout=30)
    assert other.returncode == 0, err
    assert out.strip() == "wrote"
    with database.transaction(read_only=True) as s:
        assert s.execute(text("SELECT who FROM t ORDER BY rowid")).scalars().all() == [
            "this process", "other process"]
    assert (tmp_path / "two.db-writers").exists()
    database.dispose()


def test_the_checkpointer_copies_committed_pages_into_the_database_file(tmp_path: Path) -> None:
    # Below the automatic checkpoint's threshold, the rows live only in the WAL until the
    # checkpointer thread moves them into the database file (which then grows).
    import time

    path = tmp_path / "ckpt.db"
    database = create_database(f"sqlite:///{path}")
    assert database.checkpointer is not None
    database.checkpointer.every = 0.05
    with database.transaction() as s:
        s.execute(text("CREATE TABLE blobs (b BLOB)"))
        for _ in range(64):
            s.execute(text("INSERT INTO blobs VALUES (randomblob(16384))"))  # ~1 MB, ~260 pages
    before = path.stat().st_size
    assert before < 200_000  # still in the WAL
    database.start_background()
    deadline = time.monotonic() + 10
    while path.stat().st_size < 1_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size >= 1_000_000
    database.dispose()  # stops the thread
    assert database.checkpointer._thread is None


def _app_writing_to(database: Database) -> FastAPI:
    """A bare app on ``database`` (with a table ``t``) whose routes go through the request
    boundary (``DbSession``): POST /write inserts a row, GET /read counts them."""
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (who TEXT)"))
    app = FastAPI()
    app.state.db = database

    @app.post("/write")
    async def write(session: DbSession) -> dict[str, bool]:
        session.execute(text("INSERT INTO t VALUES ('request')"))
        return {"ok": True}

    @app.get("/read")
    async def read(session: DbSession) -> dict[str, int]:
        return {"rows": session.execute(text("SELECT count(*) FROM t")).scalar_one()}

    return app


def test_a_request_waiting_to_write_leaves_the_event_loop_to_serve_others(tmp_path: Path) -> None:
    # While another writer (the job runner's thread) holds SQLite's write lock, a write
    # request awaits its turn: a read on the same event loop is answered meanwhile, and
    # the write goes through once the lock is free.
    import asyncio

    import httpx

    database = create_database(f"sqlite:///{tmp_path}/turn.db")
    app = _app_writing_to(database)

    holding, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with database.transaction() as s:
            s.execute(text("INSERT INTO t VALUES ('runner')"))
            holding.set()
            release.wait(10)

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            writing = asyncio.create_task(client.post("/write"))
            await asyncio.sleep(0.3)
            assert not writing.done()  # waiting for its turn, without blocking the loop
            answer = await asyncio.wait_for(client.get("/read"), 5)
            assert answer.json() == {"rows": 0}  # the runner has not committed yet
            release.set()
            assert (await asyncio.wait_for(writing, 10)).json() == {"ok": True}

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert holding.wait(5)
    try:
        asyncio.run(scenario())
    finally:
        release.set()
        thread.join(10)
    with database.transaction(read_only=True) as s:
        assert s.execute(text("SELECT who FROM t ORDER BY rowid")).scalars().all() == ["runner", "request"]
    database.dispose()


def test_waiting_requests_take_turns_with_the_job_runner_instead_of_crowding_it_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three write requests wait while another writer holds the lock, then the job runner's
    # thread asks too. Only one request of the event loop stands in the lock's queue at a
    # time, so the runner goes second, not after every request that came before it.
    import asyncio

    import httpx

    from cartdesk.db import engine as engine_module

    request_in_line, both_in_line = threading.Event(), threading.Event()

    class _Waiters(deque):  # type: ignore[type-arg]
        def append(self, gate: object) -> None:
            super().append(gate)
            (request_in_line if len(self) == 1 else both_in_line).set()

    class _ObservedLock(engine_module._FairLock):
        def __init__(self) -> None:
            super().__init__()
            self._waiters = _Waiters()

    monkeypatch.setattr(engine_module, "_FairLock", _ObservedLock)
    database = create_database(f"sqlite:///{tmp_path}/line.db")
    app = _app_writing_to(database)

    holding, release = threading.Event(), threading.Event()

    def first_writer() -> None:
        with database.transaction() as s:
            s.execute(text("INSERT INTO t VALUES ('first')"))
            holding.set()
            release.wait(10)

    def runner() -> None:
        with database.transaction() as s:
            s.execute(text("INSERT INTO t VALUES ('runner')"))

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            requests = [asyncio.create_task(client.post("/write")) for _ in range(3)]
            assert await asyncio.to_thread(request_in_line.wait, 10)
            await asyncio.sleep(0.1)  # the other two get as far as they may
            job_thread = threading.Thread(target=runner)
            job_thread.start()
            assert await asyncio.to_thread(both_in_line.wait, 10)
            release.set()
            for response in await asyncio.gather(*requests):
                assert response.json() == {"ok": True}
            await asyncio.to_thread(job_thread.join, 10)

    thread = threading.Thread(target=first_writer)
    thread.start()
    assert holding.wait(5)
    try:
        asyncio.run(scenario())
    finally:
        release.set()
        thread.join(10)
    with database.transaction(read_only=True) as s:
        assert s.execute(text("SELECT who FROM t ORDER BY rowid")).scalars().all() == [
            "first", "request", "runner", "request", "request"]
    database.dispose()


def test_a_begin_refused_by_another_process_is_sqlalchemys_error_and_holds_nothing(tmp_path: Path) -> None:
    # The BEGIN goes straight to the driver; a busy database must still surface as
    # SQLAlchemy's OperationalError (kit/http.py answers it with a 503), and the
    # in-process lock taken for it must be given back.
    database = create_database(f"sqlite:///{tmp_path}/w.db")

    @event.listens_for(database.engine, "connect")
    def _short_busy_wait(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA busy_timeout=50")

    with database.transaction() as s:
        s.execute(text("CREATE TABLE t (n INTEGER)"))
    other = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer
    with pytest.raises(OperationalError, match="database is locked"), database.transaction() as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
    assert not _WRITERS[database.engine]._lock._held  # given back, not left to a time-out
    other.execute("ROLLBACK")
    with database.transaction() as s:
        s.execute(text("INSERT INTO t VALUES (2)"))
    with database.transaction(read_only=True) as s:
        assert s.execute(text("SELECT n FROM t")).scalars().all() == [2]
    other.close()
    database.dispose()
