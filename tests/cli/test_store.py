"""`cartdesk store import-orders` and `cartdesk store sync` from the shell."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from cartdesk.brands import service as brands_service
from cartdesk.commerce.models import Order

CSV = """order_number,email,customer_name,placed_at,currency,sku,title,quantity,unit_price,tax,shipping_total
X-1,zed@example.org,Zed,2026-10-01T10:00:00+00:00,USD,TEE,T-shirt,2,15.00,2.40,5.00
X-1,zed@example.org,Zed,2026-10-01T10:00:00+00:00,USD,CAP,Cap,1,9.99,0,
X-2,bad@example.org,Bad,2026-10-01T10:00:00+00:00,USD,TEE,T-shirt,two,15.00,0,0
"""


def test_import_orders_reports_bad_rows_and_is_safe_to_repeat(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with cli.database().transaction() as session:
        brands_service.create(session, slug="acme", name="Acme")
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    first = cli("store", "import-orders", str(path), "--brand", "acme")
    assert first.exit_code == 0
    assert "rows 4: skipped: lines.0.quantity" in first.stderr
    assert "Imported 1 orders, skipped 0 already present, 1 with errors." in first.stderr
    again = cli.ok("store", "import-orders", str(path), "--brand", "acme")
    assert "Imported 0 orders, skipped 1 already present" in again.stderr
    with cli.database().transaction(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
    missing = cli("store", "import-orders", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1 and "No such file" in missing.stderr
    assert "No such store connection" in cli("store", "sync", "42").stderr
