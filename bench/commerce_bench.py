"""Commerce read paths and the Shopify import, measured in-process.

    python bench/commerce_bench.py --database-url sqlite:////tmp/bench/orders.db --orders 100000
    python bench/commerce_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench --orders 100000

Seeds ``--orders`` orders (2 lines, one shipment with 3 scans each, 4 orders per customer) with
Core bulk inserts into a fresh database, then times, for random customers/orders:

- ``panel``: the customer 360 of the conversation page — its queries (``web.agent.store.panel``) and
  the rendering of ``agent/_store_panel.html`` (no HTTP);
- ``lookup``: the portal's order lookup by number + email (``commerce.portal.find_order``) and the
  order page's signed-link check;
- ``import``: ``--import-orders`` orders imported from the fake Shopify server (pages of 250 through
  the Link header), reported as orders per second.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text  # noqa: E402

from cartdesk.brands import service as brands_service  # noqa: E402
from cartdesk.commerce import portal  # noqa: E402
from cartdesk.commerce.models import Order, OrderLine, Shipment, StoreConnection, TrackingEvent  # noqa: E402
from cartdesk.customers.models import Customer, CustomerIdentity  # noqa: E402
from cartdesk.db.engine import create_database  # noqa: E402
from cartdesk.db.migrate import upgrade  # noqa: E402
from cartdesk.kit.clock import utcnow  # noqa: E402

BATCH = 10_000


def seed(db, n_orders: int) -> int:  # type: ignore[no-untyped-def]
    now = utcnow()
    with db.transaction() as session:
        brand = brands_service.create(session, slug="bench", name="Bench Store")
        brand_id = brand.id
    n_customers = max(1, n_orders // 4)
    with db.engine.begin() as conn:
        for start in range(0, n_customers, BATCH):
            ids = range(start + 1, min(n_customers, start + BATCH) + 1)
            conn.execute(insert(Customer), [{"id": i, "name": f"Customer {i}", "email": f"c{i}@example.org",
                                             "is_vip": False, "custom_fields": {}, "created_at": now,
                                             "updated_at": now} for i in ids])
            conn.execute(insert(CustomerIdentity), [{"customer_id": i, "kind": "email", "value": f"c{i}@example.org",
                                                     "verified": False} for i in ids])
        for start in range(0, n_orders, BATCH):
            ids = list(range(start + 1, min(n_orders, start + BATCH) + 1))
            orders, lines, shipments, events = [], [], [], []
            for i in ids:
                customer = (i - 1) % n_customers + 1
                placed = now - timedelta(days=i % 400, minutes=i % 1440)
                orders.append({"id": i, "brand_id": brand_id, "number": f"B{100000 + i}", "customer_id": customer,
                               "email": f"c{customer}@example.org", "status": "open", "financial_status": "paid",
                               "fulfillment_status": "fulfilled", "currency": "USD", "subtotal": Decimal("89.00"),
                               "discount_total": Decimal("0"), "tax_total": Decimal("0"), "shipping_total": Decimal("5.00"),
                               "total": Decimal("94.00"), "paid_total": Decimal("94.00"), "refunded_total": Decimal("0"),
                               "shipping_address": {"name": "X", "line1": "1 Road", "city": "Town", "country": "US"},
                               "billing_address": {}, "placed_at": placed, "source": "cartdesk",
                               "created_at": now, "updated_at": now})
                for j, (title, price) in enumerate((("Trail runners", "59.00"), ("Merino socks", "15.00"))):
                    lines.append({"id": 2 * i - 1 + j, "order_id": i, "sku": f"SKU-{j}", "title": title, "category": "",
                                  "final_sale": False, "quantity": 1 + j, "unit_price": Decimal(price),
                                  "discount": Decimal("0"), "tax": Decimal("0"),
                                  "total": Decimal(price) * (1 + j)})
                shipments.append({"id": i, "order_id": i, "carrier": "UPS", "tracking_number": f"1Z{i:010d}",
                                  "status": "delivered", "items": [], "shipped_at": placed, "delivered_at": placed,
                                  "created_at": now, "updated_at": now})
                for k, status in enumerate(("label_created", "in_transit", "delivered")):
                    events.append({"shipment_id": i, "occurred_at": placed + timedelta(hours=k * 20), "status": status,
                                   "description": status.replace("_", " "), "location": "Reno, NV"})
            conn.execute(insert(Order), orders)
            conn.execute(insert(OrderLine), lines)
            conn.execute(insert(Shipment), shipments)
            conn.execute(insert(TrackingEvent), events)
        if db.dialect == "postgresql":
            for table in ("customers", "orders", "order_lines", "shipments", "tracking_events"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
            conn.execute(text("ANALYZE"))
    return n_customers


def percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {"p50_ms": round(statistics.median(samples) * 1000, 2),
            "p95_ms": round(samples[int(len(samples) * 0.95) - 1] * 1000, 2), "n": len(samples)}


def bench_panel(db, n_customers: int, rounds: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from cartdesk.web.agent.store import panel
    from cartdesk.web.templating import create_templates

    template = create_templates().env.get_template("agent/_store_panel.html")
    rng, samples = random.Random(1), []
    for _ in range(rounds):
        customer_id = rng.randint(1, n_customers)
        start = time.perf_counter()
        with db.transaction(read_only=True) as session:
            ctx = panel(session, customer_id=customer_id)
            html = template.render(**ctx, customer=session.get(Customer, customer_id), c=None, csrf_token="x")
        samples.append(time.perf_counter() - start)
        assert "B1" in html
    return percentiles(samples)


def bench_lookup(db, n_orders: int, n_customers: int, rounds: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    rng, samples = random.Random(2), []
    with db.transaction(read_only=True) as session:
        brand = brands_service.resolve(session, ref="bench")
    for _ in range(rounds):
        i = rng.randint(1, n_orders)
        email = f"c{(i - 1) % n_customers + 1}@example.org"
        start = time.perf_counter()
        with db.transaction(read_only=True) as session:
            order = portal.find_order(session, brand=brand, number=f"B{100000 + i}", email=email)
            assert order is not None
            token = portal.sign("bench-secret", order=order)
            assert portal.resolve(session, secret="bench-secret", token=token, brand=brand, max_age=3600) is not None
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def bench_import(db, n: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from tests.fakes.serve import serve
    from tests.fakes.shopify import FakeShopify

    from cartdesk.commerce import credentials, sync
    from cartdesk.commerce.connectors.registry import connector_for

    fake = FakeShopify()
    for k in range(n):
        fake.add_order(number=500000 + k, email=f"shop{k % 5000}@example.org",
                       lines=[("SKU-0", "Trail runners", 1, "59.00"), ("SKU-1", "Merino socks", 2, "15.00")],
                       shipping="5.00", updated_at=f"2026-11-01T10:00:{k % 60:02d}-05:00")
    with db.transaction() as session:
        brand = brands_service.create(session, slug="shop", name="Shop")
        connection = StoreConnection(brand_id=brand.id, platform="shopify", base_url="http://x")
        credentials.seal(connection, credentials={"access_token": fake.token}, webhook_secret="s" * 16)
        session.add(connection)
        session.flush()
        connection_id = connection.id
    with serve(fake.app()) as url:
        with db.transaction() as session:
            session.get(StoreConnection, connection_id).base_url = url
        start = time.perf_counter()
        report = sync.run_import(db.transaction, connection_id=connection_id, connector_factory=connector_for)
        elapsed = time.perf_counter() - start
    assert report.orders == n, report
    return {"orders": n, "seconds": round(elapsed, 1), "orders_per_s": round(n / elapsed, 1),
            "projected_100k_min": round(100_000 / (n / elapsed) / 60, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--import-orders", type=int, default=2_000)
    args = parser.parse_args()
    db = create_database(args.database_url)
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(db.engine)
    started = time.perf_counter()
    n_customers = seed(db, args.orders)
    print(f"seeded {args.orders} orders for {n_customers} customers in {time.perf_counter() - started:.1f} s")
    print("panel", bench_panel(db, n_customers, args.rounds))
    print("lookup", bench_lookup(db, args.orders, n_customers, args.rounds))
    print("import", bench_import(db, args.import_orders))
    db.dispose()


if __name__ == "__main__":
    main()
