"""Alembic environment: the URL comes from Cartdesk settings (or the caller's config)."""

from __future__ import annotations

from alembic import context

from cartdesk.db.models import metadata

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from cartdesk.config import get_settings

    return get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from cartdesk.db.engine import make_engine

    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    if connection.dialect.name == "sqlite":
        # Migration 0010's kb_fts triggers call cartdesk_stem; a connection handed in by a
        # caller that did not open it through make_engine() has not registered it yet.
        from cartdesk.kit.stemming import stem_text

        connection.connection.driver_connection.create_function("cartdesk_stem", 2, stem_text, deterministic=True)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
