"""Engine and session factory, built from settings (never at import time)."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import anyio
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from cartdesk.db.session import CartdeskSession, install_commit_hooks
from cartdesk.kit.stemming import stem_text

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets readers run beside the single writer; busy_timeout makes writers queue
    # instead of failing; NORMAL sync is durable across process crashes in WAL mode.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.execute("PRAGMA temp_store=MEMORY")
    # Checkpoints are the Checkpointer thread's job in a serving process; this bound is for
    # processes without one (the CLI), and a safety net if it falls behind.
    cursor.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
    cursor.close()
    # The knowledge base's FTS5 index holds stemmed words, stemmed per article language by
    # this function in its triggers (migration 0010): SQLite's own tokenizers stem English only.
    dbapi_connection.create_function("cartdesk_stem", 2, stem_text, deterministic=True)


_AUTOCHECKPOINT_PAGES = 10_000  # 40 MB of WAL
_CHECKPOINT_EVERY = 0.2  # seconds


class Checkpointer:
    """Copies committed WAL pages back into the database file, from a thread of its own.

    SQLite's automatic checkpoint runs inside the commit that crosses the threshold: at a
    million conversations that commit writes hundreds of scattered pages back and fsyncs
    the file on the event loop. Here a ``PASSIVE`` checkpoint runs every 0.2 s on its own
    connection; it takes no lock that writers or readers wait for, and the sqlite3 module
    lets go of the GIL while it runs, so requests go on beside it (c=1 p95 of create at
    1M 10.0 → 5.0 ms; docs/performance.md).

    Under steady writes the WAL never ends up wholly copied (new frames land while a round
    copies), so SQLite itself neither syncs the database file after a round nor starts the
    WAL over; the WAL grows to ``wal_autocheckpoint`` pages, and the commit that reaches it
    checkpoints on the event loop, its fsync of the database file flushing every page the
    rounds copied since the last one: 20–25 ms, about once a second at 1M replies. So each
    round that copied pages also syncs the database file here (``fdatasync``, outside any
    lock), and the commit's checkpoint finds little left to flush: replies at 1M, c=32, the
    event loop's time in fsync 247 → 72 ms per 10 s, its longest 26.6 → 6.6 ms
    (docs/performance.md).
    """

    def __init__(self, path: str, *, every: float = _CHECKPOINT_EVERY) -> None:
        self.path = path
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._copied = 0  # the WAL frames copied back as of the last round (its "checkpointed")

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="sqlite-checkpoint", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        database_file: int | None = None
        try:
            database_file = os.open(self.path, os.O_RDONLY)
        except OSError:  # checkpoints still run; only the extra sync is lost
            log.warning("could not open %s to sync it after checkpoints", self.path, exc_info=True)
        try:
            while not self._stop.wait(self.every):
                self.round(connection, database_file)
        finally:
            if database_file is not None:
                os.close(database_file)
            connection.close()

    def round(self, connection: sqlite3.Connection, database_file: int | None) -> None:
        """One checkpoint, and the database file synced if it copied pages back."""
        try:
            _busy, _frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:  # busy or gone for a moment: the next round tries again
            log.debug("checkpoint skipped", exc_info=True)
            return
        # "copied" counts from the WAL's start, which begins again when the WAL restarts.
        if database_file is not None and copied > 0 and copied != self._copied:
            try:
                os.fdatasync(database_file)
            except OSError:
                log.warning("could not sync %s after a checkpoint", self.path, exc_info=True)
        self._copied = max(copied, 0)


# How long a writer waits for the in-process writer lock before leaving the waiting to
# SQLite's busy_timeout (a transaction held across an await on the event loop would
# otherwise stall every other writer on that loop indefinitely).
_WRITER_LOCK_WAIT = 10.0


class _AsyncGate:
    """A coroutine's place in :class:`_FairLock`'s queue. ``release`` (the hand-over, from
    any thread) resolves its future on the coroutine's loop: no polling, no blocked loop."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.future: asyncio.Future[None] = self._loop.create_future()

    def release(self) -> None:
        self._loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class _FairLock:
    """A lock handed to its waiters in the order they came.

    ``threading.Lock`` favours the thread that releases it: the job runner, done with
    one job, took the lock straight back for the next one while the event loop, woken
    but still waiting for the GIL, found it taken again, so a request could wait out a
    whole batch of jobs (reply p95 at concurrency 32 was 7x its median;
    docs/performance.md). Here ``release`` passes the lock to the oldest waiter.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Lock | _AsyncGate] = deque()

    def acquire(self, timeout: float) -> bool:
        gate = self.enqueue()
        if gate is None or gate.acquire(timeout=timeout):
            return True  # free, or handed over by release()
        return self.abandon(gate)

    def enqueue(self) -> threading.Lock | None:
        """Take the lock if it is free (None), else join the queue: the returned gate is
        released when the lock is handed over (poll it, or wait on it)."""
        with self._mutex:
            if not self._held:
                self._held = True
                return None
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append(gate)
            return gate

    def enqueue_async(self) -> _AsyncGate | None:
        """:meth:`enqueue` for a coroutine: its gate resolves a future on its event loop."""
        with self._mutex:
            if not self._held:
                self._held = True
                return None
            gate = _AsyncGate()
            self._waiters.append(gate)
            return gate

    def abandon(self, gate: threading.Lock | _AsyncGate) -> bool:
        """Leave the queue after waiting too long; True if the lock was handed over anyway."""
        with self._mutex:
            if gate in self._waiters:
                self._waiters.remove(gate)
                return False
        return True  # release() handed it over just as the wait ran out

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # still held, now by that waiter
            else:
                self._held = False


class _WriterFile:
    """The writer lock between processes: an exclusive ``flock`` on ``<database>-writers``.

    Taken by the process's one writer (it already holds :class:`_FairLock`) before its
    ``BEGIN IMMEDIATE``, released after its commit, so a web process and a ``cartdesk
    worker`` on the same SQLite file take turns within a millisecond instead of
    through SQLite's busy handler (its sleeps grow to 100 ms: delivery in a
    worker process gave replies a p95 of 130 ms; docs/performance.md). The wait polls,
    so that it can give up: after ``timeout`` the writer goes on to SQLite's own
    busy_timeout, as a process that does not know this file (the sqlite3 shell) does.
    The file is opened per process: a descriptor inherited across ``fork`` would share
    the lock with the parent.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        pause = 0.0001
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.001)
        return True

    def try_acquire(self) -> bool:
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def release(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)


class LoopWriterError(RuntimeError):
    """A write transaction that would have blocked the event loop (``_SqliteWriters``)."""


@dataclass
class _Turn:
    """A request's claim on the writer lock, taken before its transaction begins."""

    writers: _SqliteWriters
    held: bool = True
    file: bool = False  # also the file lock
    key: int | None = None  # the connection whose transaction took it over


_TURN: ContextVar[_Turn | None] = ContextVar("cartdesk_writer_turn", default=None)


class _SqliteWriters:
    """One writer at a time, handed over the moment it commits.

    SQLite allows one writer; a second ``BEGIN IMMEDIATE`` meets SQLITE_BUSY and its
    busy handler sleeps in growing steps (1, 2, 5, 10 .. 100 ms) before it tries again,
    so a request that arrived while the job runner was writing waited tens of
    milliseconds after the lock was already free (reply p99 0.4 s at concurrency 1;
    docs/performance.md). Writers in the same process queue on a Python lock instead
    (first come, first served: :class:`_FairLock`) and start as soon as the previous
    one commits; the holder of that lock then takes the file lock that processes on the
    same database (``cartdesk worker``, the CLI) share (:class:`_WriterFile`).
    """

    def __init__(self, lock_path: str | None = None) -> None:
        self._lock = _FairLock()
        self._file = _WriterFile(lock_path) if lock_path else None
        self._holders: set[int] = set()  # ids of the DBAPI connections holding the lock
        self._file_holders: set[int] = set()  # ... and of those also holding the file lock
        self._lines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())
        # Loops whose coroutines take turns: the lock may be handed to one of them.
        self._turn_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()

    @asynccontextmanager
    async def turn(self, *, jump_line: bool = False) -> AsyncIterator[None]:
        """Wait for the writer lock *without blocking the event loop*, for a request that
        will write: the loop serves other requests (reads, pushes, responses) while a writer
        elsewhere (the job runner's thread, a ``cartdesk worker``) finishes, where a wait in
        ``BEGIN`` would stall it. The request's transaction then begins holding the lock;
        it is released at that commit, or here if the request never began one.

        ``jump_line``: stand in the lock's queue at once, beside the loop's one waiting
        request (the job runner on the loop, ``jobs.loop_runner``, so that its jobs
        alternate with the requests rather than wait behind all of them)."""
        # One request of this event loop in the lock's queue at a time, the rest waiting
        # here: with all 32 of a busy loop's requests in line, the job runner's thread got
        # one turn in 33 and its jobs piled up (docs/performance.md); so it alternates with
        # the loop's requests, as when a waiting request blocked the loop.
        loop = asyncio.get_running_loop()
        self._turn_loops.add(loop)
        if jump_line:
            turn = await self._acquire_async()
        else:
            line = self._lines.get(loop)
            if line is None:
                line = self._lines[loop] = asyncio.Lock()
            async with line:
                turn = await self._acquire_async()
        token = _TURN.set(turn)
        try:
            yield
        finally:
            _TURN.reset(token)
            if turn.held and turn.key is None:
                turn.held = False
                if turn.file:
                    self._file.release()  # type: ignore[union-attr]
                self._lock.release()

    async def _acquire_async(self) -> _Turn:
        gate = self._lock.enqueue_async()
        if gate is not None:
            try:
                await asyncio.wait_for(asyncio.shield(gate.future), _WRITER_LOCK_WAIT)
            except TimeoutError:
                if not self._lock.abandon(gate):
                    return _Turn(self, held=False)  # BEGIN waits as it would have
            except BaseException:  # cancelled (the client left): never keep a lock handed over
                if self._lock.abandon(gate):
                    self._lock.release()
                raise
        turn = _Turn(self)
        if self._file is not None:
            # Another process writing: wait for it in a thread (the same polling as theirs, so
            # neither process crowds the other out), the loop free meanwhile. Not cancellable:
            # the turn's ``finally`` must see whether the file lock was taken.
            turn.file = self._file.try_acquire() or await anyio.to_thread.run_sync(
                self._file.acquire, _WRITER_LOCK_WAIT)
        return turn

    def install(self, engine: Engine) -> None:
        _WRITERS[engine] = self
        event.listen(engine, "begin", self._begin)
        dialect = engine.dialect
        do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

        # Released after SQLite has committed (the engine's "commit" event fires
        # before), so the next writer's BEGIN IMMEDIATE does not meet SQLITE_BUSY.
        def commit(dbapi_connection) -> None:  # type: ignore[no-untyped-def]
            try:
                do_commit(dbapi_connection)
            finally:
                self._release(dbapi_connection)

        def rollback(dbapi_connection) -> None:  # type: ignore[no-untyped-def]
            try:
                do_rollback(dbapi_connection)
            finally:
                self._release(dbapi_connection)

        dialect.do_commit = commit  # type: ignore[method-assign]
        dialect.do_rollback = rollback  # type: ignore[method-assign]

    def _begin(self, conn) -> None:  # type: ignore[no-untyped-def]
        # pysqlite's own transaction handling is disabled (isolation_level=None) so that
        # we can BEGIN ourselves; IMMEDIATE takes the write lock up front, which turns
        # "database is locked" upgrade deadlocks into ordinary waiting.
        # Straight to the driver: a BEGIN has no parameters and no result, and SQLAlchemy's
        # execute path around it cost more than the statement.
        if conn.get_execution_options().get("cartdesk_read_only", False):
            _begin_raw(conn, "BEGIN")
            return
        key = _raw_id(conn.connection)
        turn = _TURN.get()
        if turn is not None and turn.writers is self and turn.held and turn.key is None:
            # The request waited for its turn already (``turn``): this transaction takes it over.
            turn.key = key
            self._holders.add(key)
            if turn.file:
                self._file_holders.add(key)
        elif key not in self._holders:
            self._refuse_blocking_a_loop(turn)
            if self._lock.acquire(timeout=_WRITER_LOCK_WAIT):
                self._holders.add(key)
                # Only the holder of the process's lock: the descriptor is the process's, and a
                # second thread's flock on it would "succeed" beside the first.
                if self._file is not None and self._file.acquire(timeout=_WRITER_LOCK_WAIT):
                    self._file_holders.add(key)
        try:
            _begin_raw(conn, "BEGIN IMMEDIATE")
        except BaseException:
            self._release(conn.connection)
            raise

    def _refuse_blocking_a_loop(self, turn: _Turn | None) -> None:
        """Refuse a write transaction that would wait for the lock *blocking an event loop*.

        Outside a writer turn, on the thread of a loop whose coroutines take turns (the
        web app's), ``_FairLock.acquire`` blocks the loop; if the lock has been handed to
        a coroutine of that loop (a request that awaited its turn), the holder can never
        run, and the loop stalls for the whole ``_WRITER_LOCK_WAIT`` (an API token's
        last-used write after commit did this: 10 s stalls under load;
        docs/performance.md). Such code takes ``Database.writer_turn``, one transaction
        per turn, or runs in a thread. Only a turn that waited in vain (not held, taken
        by nobody) may wait here, as a BEGIN without turns would. A loop that never takes
        turns (Playwright's, under a sync test) holds no gate and may wait."""
        if turn is not None and turn.writers is self and turn.key is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a thread of its own: waiting blocks nobody else
        if loop not in self._turn_loops:
            return
        raise LoopWriterError(
            "A write transaction began on the event loop outside a writer turn; it would block "
            "the loop while it waits for SQLite's writer lock. Take `Database.writer_turn()` "
            "(one transaction per turn) or run it in a thread.")

    def _release(self, connection) -> None:  # type: ignore[no-untyped-def]
        key = _raw_id(connection)
        turn = _TURN.get()
        if turn is not None and turn.key == key:
            turn.held = False  # released below, with the commit
        if key in self._holders:
            if key in self._file_holders:
                self._file_holders.discard(key)
                self._file.release()  # type: ignore[union-attr]
            self._holders.discard(key)
            self._lock.release()


def _begin_raw(conn, statement: str) -> None:  # type: ignore[no-untyped-def]
    try:
        conn.connection.driver_connection.execute(statement)
    except sqlite3.OperationalError as exc:  # "database is locked": a 503 (kit/http.py), as before
        raise OperationalError(statement, None, exc) from exc


_WRITERS: weakref.WeakKeyDictionary[Engine, _SqliteWriters] = weakref.WeakKeyDictionary()


def _raw_id(connection) -> int:  # type: ignore[no-untyped-def]
    # The dialect is handed the pool's proxy or the raw sqlite3 connection, depending
    # on the caller; both name the same raw connection.
    return id(getattr(connection, "dbapi_connection", connection))


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        on_disk = "///" in url and bool(path) and path != ":memory:" and not path.startswith("file:")
        if on_disk:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            poolclass=QueuePool,
            # SQLite connections are cheap; sync routes run in a 40-thread pool and each
            # may hold one, so the pool must not be the thing that makes them wait.
            pool_size=20,
            max_overflow=40,
            connect_args={"check_same_thread": False, "isolation_level": None, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        _SqliteWriters(f"{path}-writers" if on_disk else None).install(engine)
        return engine
    # Up to 60 connections a process: more than the 40 threads that run sync routes plus the
    # job runner's, so that no request waits for a connection (at 30, 32 concurrent searches
    # timed out on the pool; docs/performance.md). Overflow connections close once returned.
    return create_engine(url, echo=echo, pool_size=10, max_overflow=50, pool_pre_ping=True)


@dataclass
class Database:
    engine: Engine
    sessionmaker: sessionmaker[Session]
    read_sessionmaker: sessionmaker[Session]
    # SQLite files only; started by the processes that serve (the web app, `cartdesk worker`).
    checkpointer: Checkpointer | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """The unit of work: one session, one commit at the end, rollback on error.

        ``read_only`` sessions begin a deferred transaction on SQLite so that many
        readers run beside the writer; writers take the lock up front.
        """
        session = (self.read_sessionmaker if read_only else self.sessionmaker)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def configure_info(self, **info: object) -> None:
        """Values every new session sees in ``session.info`` (event sinks, job wake-up)."""
        for factory in (self.sessionmaker, self.read_sessionmaker):
            factory.kw.setdefault("info", {}).update(info)

    @property
    def has_writer_turns(self) -> bool:
        """True for an SQLite file engine, whose writers take turns (``_SqliteWriters``)."""
        return self.engine in _WRITERS and isinstance(self.sessionmaker.kw.get("bind"), Engine)

    @asynccontextmanager
    async def writer_turn(self, *, jump_line: bool = False) -> AsyncIterator[None]:
        """For an ``async`` request that will write: wait for SQLite's writer lock without
        blocking the event loop (see ``_SqliteWriters.turn``). Nothing on PostgreSQL.

        The turn lasts for one transaction: the first one begun inside it takes the lock
        over, and its commit hands the lock on. A second transaction inside the same turn
        would wait for the lock blocking the loop, so code on the loop opens one per turn."""
        writers = _WRITERS.get(self.engine)
        # Sessions bound to a connection (tests: one rolled-back transaction) join what that
        # connection already holds; there is no turn to wait for.
        if writers is None or not isinstance(self.sessionmaker.kw.get("bind"), Engine):
            yield
            return
        async with writers.turn(jump_line=jump_line):
            yield

    def start_background(self) -> None:
        """What a long-running process adds: SQLite's checkpoints off the request path."""
        if self.checkpointer is not None:
            self.checkpointer.start()

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()


def create_database(url: str, *, echo: bool = False) -> Database:
    engine = make_engine(url, echo=echo)
    factory = sessionmaker(bind=engine, class_=CartdeskSession, expire_on_commit=False, autoflush=True)
    read_factory = sessionmaker(
        bind=engine.execution_options(cartdesk_read_only=True), class_=CartdeskSession, expire_on_commit=False,
        autoflush=True,
    )
    install_commit_hooks(factory)
    install_commit_hooks(read_factory)
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    checkpointer = Checkpointer(path) if path and path != ":memory:" and not path.startswith("file:") else None
    return Database(engine=engine, sessionmaker=factory, read_sessionmaker=read_factory, checkpointer=checkpointer)
