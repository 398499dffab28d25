"""search (PostgreSQL): stored tsvector columns instead of expression indexes

Migration 0001 indexed ``to_tsvector(...)`` expressions. The GIN index finds candidate
rows, but every row the executor then looks at (each row of a newest-first walk, each
recheck) parsed its text again: at a million conversations a walk over 2,903 messages took
77 ms, against 8.4 ms over the stored column (docs/performance.md). Here each of
``messages``, ``conversations`` and ``customers`` gets a ``search_vector`` column generated
from the same expression and stored, and the index of the same name is rebuilt over it.

Upgrading an existing PostgreSQL database rewrites these three tables (the vector of every
row is computed once): minutes at a million conversations, during which they are locked.
SQLite is unchanged (its FTS5 tables already hold the parsed words).

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (the vector, as migration 0001 indexed it). A migration keeps its own copy.
_VECTORS = {
    "messages": "to_tsvector('english', body_text)",
    "conversations": "to_tsvector('english', subject)",
    "customers": "to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(email, '') || ' ' "
                 "|| coalesce(phone, ''))",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("SET LOCAL maintenance_work_mem = '512MB'")  # the index builds sort in memory
    for table, vector in _VECTORS.items():
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_fts")
        op.execute(f"ALTER TABLE {table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({vector}) STORED")
        op.execute(f"CREATE INDEX ix_{table}_fts ON {table} USING gin (search_vector)")
        # search/postgres.py reads the column's most common lexemes from these statistics.
        op.execute(f"ANALYZE {table} (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, vector in _VECTORS.items():
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_fts")
        op.execute(f"ALTER TABLE {table} DROP COLUMN search_vector")
        op.execute(f"CREATE INDEX ix_{table}_fts ON {table} USING gin ({vector})")
