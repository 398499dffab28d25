"""Database chores for loading and wiping the demo: search triggers, emptying every table.

Both work from what the database says about itself (sqlite_master, the PostgreSQL
catalog), so tables and triggers added by later migrations are covered too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text


def fts_tables(connection: Connection) -> list[str]:
    """SQLite FTS5 tables (none on PostgreSQL, whose search indexes maintain themselves)."""
    if connection.dialect.name != "sqlite":
        return []
    rows = connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%'"
    )
    return [name for (name,) in rows]


@contextmanager
def search_triggers_suspended(connection: Connection) -> Iterator[list[str]]:
    """Inside the block, SQLite's FTS triggers do not fire; yields the FTS table names.

    The triggers are dropped and re-created from their own stored SQL in the same
    transaction, so a failure rolls back to the triggers as they were. Rows written
    inside the block are NOT indexed: the caller indexes them (``index_rows``) or
    rebuilds the index.
    """
    tables = fts_tables(connection)
    if not tables:
        yield tables
        return
    clauses = " OR ".join(f"sql LIKE '%{name}%'" for name in tables)
    triggers = connection.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND ({clauses})"
    ).all()
    for name, _ in triggers:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield tables
    for _, sql in triggers:
        connection.exec_driver_sql(sql)


def fts_sources(connection: Connection) -> dict[str, tuple[str, list[str]]]:
    """For each table with an external-content FTS index: (FTS table, indexed columns)."""
    sources = {}
    for name in fts_tables(connection):
        sql = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).scalar_one()
        match = re.search(r"content\s*=\s*'(\w+)'", sql)
        if match:
            columns = [row[1] for row in connection.exec_driver_sql(f"PRAGMA table_info({name})")]
            sources[match.group(1)] = (name, columns)
    return sources


def index_rows(connection: Connection, *, table: str, first_id: int, last_id: int) -> None:
    """Index rows ``first_id..last_id`` of ``table`` as its insert trigger would, in one statement."""
    source = fts_sources(connection).get(table)
    if source is None:
        return
    fts, columns = source
    cols = ", ".join(columns)
    connection.execute(
        text(f"INSERT INTO {fts}(rowid, {cols}) SELECT id, {cols} FROM {table} WHERE id BETWEEN :a AND :b"),
        {"a": first_id, "b": last_id},
    )


def user_tables(connection: Connection) -> list[str]:
    """Every table that holds data (not the migration bookkeeping, not FTS internals)."""
    if connection.dialect.name == "sqlite":
        skip = set(fts_tables(connection))
        rows = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' "
            "AND name NOT LIKE 'sqlite_%'"
        )
        names = [n for (n,) in rows if n != "alembic_version"]
        return [n for n in names if not any(n.startswith(f + "_") for f in skip)]
    rows = connection.exec_driver_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
    )
    return [n for (n,) in rows]


def wipe(connection: Connection) -> None:
    """Empty every data table and its search index; ids start again at 1."""
    tables = user_tables(connection)
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        )
        return
    # Rows reference each other in every direction; checking at commit, when all
    # are gone, is both correct and the only order that always works.
    connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    with search_triggers_suspended(connection) as fts:
        for table in tables:
            connection.exec_driver_sql(f'DELETE FROM "{table}"')
        for name in fts:
            # 'delete-all' is for external-content indexes; one that keeps its own text
            # (kb_fts holds stemmed words since migration 0010) is emptied like a table.
            ddl = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).scalar() or ""
            if "content=" in ddl.replace(" ", "").lower():
                connection.exec_driver_sql(f"INSERT INTO {name}({name}) VALUES ('delete-all')")
            else:
                connection.exec_driver_sql(f'DELETE FROM "{name}"')


# Tables the bulk loader fills; their secondary indexes are built once at the end.
BULK_TABLES = ("customers", "customer_identities", "conversations", "conversation_tags", "messages", "events")


def _secondary_indexes(table_names: tuple[str, ...]) -> list[Any]:
    from cartdesk.db.models import metadata

    return [index for name in table_names for index in metadata.tables[name].indexes if not index.unique]


# PostgreSQL's full-text indexes (over the stored vectors of migration 0013), by name: a
# GIN index updated row by row made a million-conversation load take over 20 minutes;
# built once at the end it takes a minute or two. Kept here so that ``ensure_indexes`` can
# put them back after a load that was cut short; tests/cli/test_demo.py checks they match
# the migrations.
PG_SEARCH_INDEXES = {
    name: f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (search_vector)"
    for name, table in (("ix_messages_fts", "messages"), ("ix_conversations_fts", "conversations"),
                        ("ix_customers_fts", "customers"))
}


def drop_secondary_indexes(connection: Connection) -> None:
    """Before a bulk load: sorting once at the end beats updating six B-trees per row.

    The models' own non-unique indexes (the ones ``ensure_indexes`` can put back) and,
    on PostgreSQL, the full-text indexes; primary keys and unique constraints stay.
    (SQLite's FTS5 tables are filled per batch by ``index_rows`` instead.)
    """
    for index in _secondary_indexes(BULK_TABLES):
        index.drop(connection, checkfirst=True)
    if connection.dialect.name == "postgresql":
        for name in PG_SEARCH_INDEXES:
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


def ensure_indexes(connection: Connection) -> None:
    """Every index the models declare exists (after a bulk load, or one that was cut short)."""
    if connection.dialect.name == "postgresql":
        # Index builds sort in memory when they can; the setting lasts for this transaction.
        connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
    for index in _secondary_indexes(BULK_TABLES):
        index.create(connection, checkfirst=True)
    if connection.dialect.name == "postgresql":
        for ddl in PG_SEARCH_INDEXES.values():
            connection.exec_driver_sql(ddl)


def analyze(connection: Connection) -> None:
    """Fresh planner statistics after a big load, so the first queries pick the right indexes."""
    if connection.dialect.name == "sqlite":
        # A sample per index is plenty for the planner and keeps this to seconds at a million rows.
        connection.exec_driver_sql("PRAGMA analysis_limit = 2000")
    connection.exec_driver_sql("ANALYZE")
