"""Shared fixtures.

Every DB test runs on SQLite and, when CARTDESK_TEST_DATABASE_URL is set, on
PostgreSQL too. Each test runs inside a transaction that is rolled back at the
end; the app under test gets a Database bound to that same connection, so a
request's commit is a savepoint release and nothing leaks between tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from cartdesk.config import Settings
from cartdesk.db.engine import Database, create_database
from cartdesk.db.migrate import upgrade
from cartdesk.db.session import CartdeskSession, install_commit_hooks

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_url(suffix: str = "") -> str:
    """The PostgreSQL test database for this pytest process, created on first use.

    Under pytest-xdist every worker gets a database of its own (``<name>_gw0``…), so
    workers never drop each other's schema; ``suffix`` names a further private one.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(os.environ["CARTDESK_TEST_DATABASE_URL"])
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    name = base.database + (f"_{worker}" if worker else "") + suffix
    url = base.set(database=name)
    if name != base.database:
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    return url.render_as_string(hide_password=False)


def empty_schema(engine: Engine) -> None:
    """Drop everything in a PostgreSQL test database's public schema (a fresh start)."""
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


def _backends() -> list[str]:
    backends = ["sqlite"]
    if os.environ.get("CARTDESK_TEST_DATABASE_URL"):
        backends.append("postgres")
    elif IN_CI:
        raise RuntimeError("CI must set CARTDESK_TEST_DATABASE_URL so the PostgreSQL variant runs")
    return backends


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips cleanly outside CI when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if IN_CI:
            raise FileNotFoundError(f"{path} is missing in CI")
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="session", params=_backends())
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db')}/test.db"
    else:
        url = postgres_url()
    db = create_database(url)
    if request.param == "postgres":
        empty_schema(db.engine)
    upgrade(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def backend(database: Database) -> str:
    return database.dialect


@pytest.fixture
def connection(database: Database) -> Iterator[Connection]:
    conn = database.engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def bound_db(database: Database, connection: Connection) -> Database:
    """A Database whose sessions all live inside the test's rolled-back transaction."""
    factory = sessionmaker(bind=connection, class_=CartdeskSession, expire_on_commit=False,
                           join_transaction_mode="create_savepoint")
    install_commit_hooks(factory)
    return Database(engine=database.engine, sessionmaker=factory, read_sessionmaker=factory)


@pytest.fixture
def session(bound_db: Database) -> Iterator[Session]:
    s = bound_db.sessionmaker()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url="sqlite:///" + str(tmp_path / "unused.db"),
        data_dir=tmp_path,
        secret_key="test-secret-key-not-for-production",
        run_jobs_in_process=False,
    )


@pytest.fixture
def app(settings: Settings, bound_db: Database):  # type: ignore[no-untyped-def]
    from cartdesk.app import create_app

    return create_app(settings, database=bound_db)


@pytest.fixture
def client(app) -> Iterator:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c
