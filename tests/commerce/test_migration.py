"""Migration 0004 builds exactly what the commerce models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cartdesk.db.models import metadata

COMMERCE_TABLES = {
    "products", "stock_levels", "inventory_movements", "discount_codes", "orders", "order_lines", "shipments",
    "tracking_events", "returns", "return_items", "refunds", "refund_lines", "refund_limits", "store_connections",
    "webhook_receipts", "store_credit_entries",
}


def _tables(diff) -> set[str]:  # type: ignore[no-untyped-def]
    names = set()
    for entry in diff:
        for item in entry if isinstance(entry, list) else [entry]:
            for part in item[1:]:
                name = getattr(part, "name", None) if not isinstance(part, str) else part
                table = getattr(part, "table", None)
                names.add(getattr(table, "name", None) or name)
    return names


def test_the_migration_matches_the_models(connection) -> None:  # type: ignore[no-untyped-def]
    diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert not (_tables(diff) & COMMERCE_TABLES), diff
    assert set(metadata.tables) >= COMMERCE_TABLES
