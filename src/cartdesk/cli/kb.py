"""`cartdesk kb`: knowledge-base chores from the command line."""

from __future__ import annotations

import typer

from cartdesk.cli.common import CommandError, err, load_settings, open_database, out

kb_app = typer.Typer(help="Knowledge base: search index chores.", no_args_is_help=True)


@kb_app.command("embed")
def embed(brand: str = typer.Option(None, help="Brand slug or id (default: every brand)")) -> None:
    """Compute missing or stale article embeddings for semantic search (needs the ml extra).

    New and edited articles are embedded by a background job; this backfills articles
    written before semantic search was turned on. Safe to run again: current vectors are kept.
    """
    from cartdesk.knowledge import semantic

    if not semantic.installed():
        raise CommandError("Semantic search needs the ml extra: pip install torch==2.13.0, then "
                           "pip install -e '.[ml]' (see the README).")
    from cartdesk.brands import service as brands_service

    database = open_database(load_settings())
    try:
        with database.transaction(read_only=True) as session:
            brands = [brands_service.resolve(session, ref=brand)] if brand else brands_service.list_brands(session)
            targets = [(b.id, b.slug) for b in brands]
        for brand_id, slug in targets:
            with database.transaction() as session:  # one brand per transaction
                count = semantic.index_brand(session, brand_id=brand_id)
            err.print(f"{slug}: {count} translation(s) embedded")
            out.print(f"{slug}\t{count}")
    finally:
        database.dispose()
