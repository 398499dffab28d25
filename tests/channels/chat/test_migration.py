"""Migration 0006 creates exactly what the chat models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from cartdesk.db.models import metadata

CHAT_TABLES = {"chat_widget_settings", "chat_visitors", "chat_log", "chat_uploads"}


def test_chat_schema_matches_the_models(connection: Connection) -> None:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    diffs = compare_metadata(context, metadata)
    ours = [d for d in diffs if any(t in repr(d) for t in CHAT_TABLES)]
    assert ours == []
