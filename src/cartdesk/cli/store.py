"""`cartdesk store import-orders` (CSV) and `cartdesk store sync` (a connected shop)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cartdesk.cli.common import CommandError, cli_actor, err, load_settings, open_database

store_app = typer.Typer(help="The store: import orders from CSV, sync a connected Shopify or WooCommerce shop.",
                        no_args_is_help=True)


@store_app.command("import-orders")
def import_orders(
    file: Annotated[str, typer.Argument(help="CSV, one row per order line (see docs/commerce.md).")],
    brand: Annotated[str | None, typer.Option(help="Brand slug or id (default: the first brand).")] = None,
) -> None:
    """Import orders from CSV. Safe to repeat: orders already there are skipped; a bad order is
    reported with its rows and left out, the others go in."""
    from cartdesk.commerce.csv_import import import_orders as run

    path = Path(file)
    if not path.is_file():
        raise CommandError(f"No such file: {file}")
    database = open_database(load_settings())
    try:
        with database.transaction() as session:
            report = run(session, actor=cli_actor(), text=path.read_text(encoding="utf-8-sig"), brand=brand)
    finally:
        database.dispose()
    for error in report.errors:
        err.print(f"rows {error['rows']}: skipped: {error['message']}", markup=False)
    err.print(f"Imported {report.created} orders, skipped {report.skipped} already present, "
              f"{len(report.errors)} with errors.")


@store_app.command("sync")
def sync_shop(connection_id: Annotated[int, typer.Argument(help="The store connection's id.")]) -> None:
    """Import customers, products and orders changed since the last sync, one page per transaction."""
    from cartdesk.commerce import credentials, sync
    from cartdesk.commerce.connectors.registry import connector_for

    settings = load_settings()
    credentials.configure(settings)
    database = open_database(settings)
    try:
        report = sync.run_import(database.transaction, connection_id=connection_id, connector_factory=connector_for)
    finally:
        database.dispose()
    err.print(f"Synced {report.customers} customers, {report.products} products and {report.orders} orders "
              f"in {report.pages} pages.")
