"""SQLite full-text indexes: merge in the background, not inside a request

FTS5's automerge ran inside whichever write crossed a segment threshold; with it
off, the ``search.merge_index`` recurring job merges in small steps instead
(src/cartdesk/search/tasks.py). Nothing to do on PostgreSQL.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FTS_TABLES = ("messages_fts", "conversations_fts", "customers_fts")
_FTS5_DEFAULT_AUTOMERGE = 4


def _set_automerge(value: int) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _FTS_TABLES:
        op.execute(f"INSERT INTO {table}({table}, rank) VALUES ('automerge', {value})")


def upgrade() -> None:
    _set_automerge(0)


def downgrade() -> None:
    _set_automerge(_FTS5_DEFAULT_AUTOMERGE)
