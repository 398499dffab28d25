"""Engine and session factory, built from settings (never at import time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from cartdesk.db.session import install_commit_hooks


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
    cursor.close()


def _sqlite_begin_immediate(conn) -> None:  # type: ignore[no-untyped-def]
    # pysqlite's own transaction handling is disabled (isolation_level=None) so that
    # we can BEGIN ourselves; IMMEDIATE takes the write lock up front, which turns
    # "database is locked" upgrade deadlocks into ordinary waiting on busy_timeout.
    read_only = conn.get_execution_options().get("cartdesk_read_only", False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
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
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


@dataclass
class Database:
    engine: Engine
    sessionmaker: sessionmaker[Session]
    read_sessionmaker: sessionmaker[Session]

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

    def dispose(self) -> None:
        self.engine.dispose()


def create_database(url: str, *, echo: bool = False) -> Database:
    engine = make_engine(url, echo=echo)
    factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
    read_factory = sessionmaker(
        bind=engine.execution_options(cartdesk_read_only=True), expire_on_commit=False, autoflush=True
    )
    install_commit_hooks(factory)
    install_commit_hooks(read_factory)
    return Database(engine=engine, sessionmaker=factory, read_sessionmaker=read_factory)
