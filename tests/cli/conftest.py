"""CLI tests run the real commands against real, committed databases.

A command commits, so these tests cannot use the shared rolled-back connection:
each test gets fresh databases of its own, SQLite files under tmp_path and, when
CARTDESK_TEST_DATABASE_URL is set, PostgreSQL databases named after it with a
``_cli_<n>`` suffix (created on first use, emptied per test).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from cartdesk.cli.main import app
from cartdesk.config import Settings
from cartdesk.db.engine import Database, create_database
from tests.conftest import empty_schema, postgres_url

_BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get("CARTDESK_TEST_DATABASE_URL") else [])


def _fresh_postgres(name: str) -> str:
    url = postgres_url(f"_cli_{name}")
    engine = create_engine(url)
    empty_schema(engine)
    engine.dispose()
    return url


@dataclass
class Cli:
    """Runs `cartdesk ...` in-process against one database, like a shell with its env set."""

    url: str
    data_dir: Path
    runner: CliRunner = field(default_factory=CliRunner)
    _databases: list[Database] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"CARTDESK_DATABASE_URL": self.url, "CARTDESK_DATA_DIR": str(self.data_dir), "COLUMNS": "200"}

    def __call__(self, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return self.runner.invoke(app, list(args), env=self.env, input=input)

    def ok(self, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        result = self(*args, input=input)
        assert result.exit_code == 0, f"cartdesk {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def settings(self) -> Settings:
        return Settings(database_url=self.url, data_dir=self.data_dir, secret_key="cli-tests-secret",
                        run_jobs_in_process=False)

    def database(self) -> Database:
        db = create_database(self.url)
        self._databases.append(db)
        return db

    def close(self) -> None:
        for db in self._databases:
            db.dispose()


@pytest.fixture(params=_BACKENDS)
def make_cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Cli]]:
    """``make_cli("a")`` → a migrated, empty database and a CLI bound to it."""
    made: list[Cli] = []

    def make(name: str = "a", *, migrate: bool = True) -> Cli:
        url = f"sqlite:///{tmp_path / name}.db" if request.param == "sqlite" else _fresh_postgres(name)
        data_dir = tmp_path / f"data-{name}"
        data_dir.mkdir(exist_ok=True)
        cli = Cli(url=url, data_dir=data_dir)
        made.append(cli)
        if migrate:
            cli.ok("migrate")
        return cli

    yield make
    for cli in made:
        cli.close()


@pytest.fixture
def cli(make_cli: Callable[..., Cli]) -> Cli:
    return make_cli("a")
