"""PostgreSQL's stored search vectors (migration 0013): filled for existing rows, kept for
new ones, undone by the downgrade, and the source of the "common word" statistics."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role
from cartdesk.brands.models import Brand
from cartdesk.db.engine import Database, create_database
from cartdesk.db.migrate import downgrade, upgrade
from cartdesk.search import postgres
from cartdesk.search import service as search_service
from cartdesk.search.query import parse
from cartdesk.search.schemas import SearchResults
from tests.conftest import empty_schema, postgres_url
from tests.factories.auth import make_user
from tests.factories.conversations import make_brand, make_conversation

pytestmark = pytest.mark.skipif(not os.environ.get("CARTDESK_TEST_DATABASE_URL"),
                                reason="PostgreSQL only (CARTDESK_TEST_DATABASE_URL)")

TABLES = ("messages", "conversations", "customers")


@pytest.fixture
def db() -> Iterator[Database]:
    database = create_database(postgres_url("_vectors"))
    empty_schema(database.engine)
    upgrade(database.engine)
    yield database
    database.dispose()


def _index_definitions(db: Database) -> dict[str, str]:
    with db.engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
            "('ix_messages_fts', 'ix_conversations_fts', 'ix_customers_fts')")).all())


def _search(db: Database, q: str) -> SearchResults:
    with db.transaction(read_only=True) as session:
        admin = auth_service.principal_for(auth_service.get_by_email(session, email="vectors-admin@example.org"))
        return search_service.search(session, principal=admin, q=q, limit=20)


def test_rows_written_before_the_migration_are_found_after_it(db: Database) -> None:
    with db.transaction() as session:
        make_user(session, role=Role.admin, email="vectors-admin@example.org")
        brand = make_brand(session)
        before = make_conversation(session, brand=brand, subject="Torn rucksack strap", name="Ottilie Quenby",
                                   body="The rucksack strap tore on the first hike.")
        brand_id = brand.id
    downgrade(db.engine, "0012")
    for name, ddl in _index_definitions(db).items():
        assert "to_tsvector" in ddl, (name, ddl)  # the expression indexes of migration 0001 are back
    with db.engine.connect() as conn:
        assert not conn.scalar(text("SELECT count(*) FROM information_schema.columns "
                                    "WHERE column_name = 'search_vector' AND table_name = ANY(:t)"),
                               {"t": list(TABLES)})
    with db.transaction() as session:
        between = make_conversation(session, brand=session.get(Brand, brand_id), subject="Rucksack zip stuck",
                                    body="The rucksack zip is stuck halfway.")

    upgrade(db.engine)

    definitions = _index_definitions(db)
    assert set(definitions) == {"ix_messages_fts", "ix_conversations_fts", "ix_customers_fts"}
    for name, ddl in definitions.items():
        assert "(search_vector)" in ddl and "to_tsvector" not in ddl, (name, ddl)
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM messages WHERE search_vector IS NULL")) == 0
    with db.transaction() as session:
        after = make_conversation(session, brand=session.get(Brand, brand_id), subject="Rucksack arrived wet",
                                  body="The rucksack arrived soaked.")
    found = _search(db, "rucksack")
    assert {c.id for c in found.conversations} == {before.id, between.id, after.id}
    assert {m.conversation_id for m in found.messages} == {before.id, between.id, after.id}
    assert [c.name for c in _search(db, "quenby").customers] == ["Ottilie Quenby"]
    # A changed subject is searched by its new words, not its old ones.
    with db.transaction() as session:
        session.execute(text("UPDATE conversations SET subject = 'Broken buckle' WHERE id = :id"), {"id": before.id})
    assert before.id not in {c.id for c in _search(db, "torn").conversations}
    assert [c.id for c in _search(db, "buckle").conversations] == [before.id]


def test_common_words_are_read_from_the_columns_statistics(db: Database) -> None:
    with db.transaction() as session:
        brand = make_brand(session)
        for n in range(150):
            make_conversation(session, brand=brand, subject=f"Parcel question {n}",
                              body="Where is my parcel?" + (" The zebra print one." if n == 0 else ""))
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE messages"))
    postgres._stats.clear()
    with db.transaction(read_only=True) as session:
        assert postgres.is_common(session, config="english", table="messages", terms=parse("parcel"))
        # In one message of 150 (under COMMON_FRACTION), or in none: read from the index first.
        assert not postgres.is_common(session, config="english", table="messages", terms=parse("zebra"))
        assert not postgres.is_common(session, config="english", table="messages", terms=parse("kangaroo"))
    postgres._stats.clear()
