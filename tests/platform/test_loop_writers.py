"""On SQLite, code on the event loop writes only in a writer turn: a write that waited for
the writer lock there would block the loop, and could stall it for the lock's whole 10 s
time-out (the holder a request of that very loop). An API token's last-used time,
recorded after a request's commit, did exactly that under load."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from cartdesk.auth.models import ApiToken, Role
from cartdesk.config import Settings
from cartdesk.db.engine import _WRITERS, LoopWriterError, create_database
from cartdesk.db.migrate import upgrade
from tests.factories.auth import make_token, make_user
from tests.factories.conversations import make_brand


def test_a_write_on_the_event_loop_outside_a_writer_turn_is_refused(tmp_path: Path) -> None:
    database = create_database(f"sqlite:///{tmp_path}/guard.db")
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))

    def write(n: int) -> None:
        with database.transaction() as s:
            s.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})

    async def scenario() -> None:
        async with database.writer_turn():
            write(2)  # the turn's one transaction
            with pytest.raises(LoopWriterError, match="writer turn"):
                write(3)  # a second one in the same turn would wait, blocking the loop
        with pytest.raises(LoopWriterError, match="writer turn"):
            write(1)  # on a loop that takes turns, outside one
        with database.transaction(read_only=True) as s:  # reads never wait for the lock
            assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
        await asyncio.to_thread(write, 4)  # a thread of its own may wait

    asyncio.run(scenario())
    write(5)  # and so may plain code with no loop
    with database.transaction(read_only=True) as s:
        assert s.execute(text("SELECT n FROM t ORDER BY rowid")).scalars().all() == [2, 4, 5]
    assert not _WRITERS[database.engine]._lock._held  # nothing refused kept the lock
    database.dispose()


def test_a_tokens_last_use_is_recorded_in_a_turn_of_its_own_without_stalling_the_loop(
    tmp_path: Path, settings: Settings
) -> None:
    # A writer in another thread holds the lock and a write request waits for its turn;
    # meanwhile a read with a token not seen before commits and records the token's use.
    # Written at once, on the loop, that wait blocked the loop, so the write request that
    # was handed the lock next could never run: the read answered after 10 s. Now the
    # read answers at once and the last-used time is written in a turn after the request.
    from cartdesk.app import create_app

    database = create_database(f"sqlite:///{tmp_path}/touch.db")
    upgrade(database.engine)
    with database.transaction() as s:
        make_brand(s, slug="northwind", name="Northwind")
        token = make_token(s, user=make_user(s, role=Role.admin))
    app = create_app(settings, database=database)
    lock = _WRITERS[database.engine]._lock

    holding, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with database.transaction() as s:
            s.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the lock is this thread's
            holding.set()
            release.wait(20)

    def last_used() -> object:
        with database.transaction(read_only=True) as s:
            return s.scalar(select(ApiToken.last_used_at))

    async def scenario() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                     headers=headers) as client:
            writing = asyncio.create_task(client.post("/api/v1/conversations", json={
                "customer": {"email": "ana@example.com", "name": "Ana"}, "subject": "Size swap",
                "message": {"body": "Can I swap the M for an L?"}, "channel": "api"}))
            while not lock._waiters:  # the write request stands in the lock's queue
                await asyncio.sleep(0.01)
            loop = asyncio.get_running_loop()
            started = loop.time()
            answer = await client.get("/api/v1/conversations?limit=1")
            assert answer.status_code == 200
            # The loop ran on: the read did not wait out the lock's 10 s time-out.
            assert loop.time() - started < 5
            assert last_used() is None  # not written yet: its turn comes after the writers'
            release.set()
            assert (await asyncio.wait_for(writing, 10)).status_code == 201
            deadline = loop.time() + 10
            while last_used() is None and loop.time() < deadline:
                await asyncio.sleep(0.02)
            assert last_used() is not None

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert holding.wait(5)
    try:
        asyncio.run(scenario())
    finally:
        release.set()
        thread.join(10)
    assert not lock._held
    database.dispose()
