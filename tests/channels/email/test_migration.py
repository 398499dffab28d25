"""Migration 0005 builds exactly what the email models declare, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cartdesk.db.models import metadata

EMAIL_TABLES = {"email_mailboxes", "email_threads", "email_quarantine"}


def _tables(diff: Any) -> set[str]:
    names = set()
    for entry in diff:
        for item in entry if isinstance(entry, list) else [entry]:
            for part in item[1:]:
                name = getattr(part, "name", None) if not isinstance(part, str) else part
                table = getattr(part, "table", None)
                names.add(getattr(table, "name", None) or name)
    return names


def test_the_migration_matches_the_models(connection: Any) -> None:
    diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert not (_tables(diff) & EMAIL_TABLES), diff
    assert set(metadata.tables) >= EMAIL_TABLES
