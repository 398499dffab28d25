"""Commerce read paths and the Shopify import, measured in-process.

    python bench/commerce_bench.py --database-url sqlite:////tmp/bench/orders.db --orders 100000
    python bench/commerce_bench.py --database-url sqlite:////tmp/bench/orders.db --reuse --only import ...
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from cartdesk.brands import service as brands_service  # noqa: E402
from cartdesk.commerce import portal  # noqa: E402
from cartdesk.commerce.models import StoreConnection  # noqa: E402
from cartdesk.config import Settings  # noqa: E402
from cartdesk.customers.models import Customer  # noqa: E402
from cartdesk.db.engine import create_database  # noqa: E402
from cartdesk.db.migrate import upgrade  # noqa: E402
from cartdesk.kit.clock import utcnow  # noqa: E402

BATCH = 20_000
SEEDED_TABLES = ("customers", "customer_identities", "orders", "order_lines", "shipments", "tracking_events")


def _secondary_indexes() -> list:  # type: ignore[type-arg]
    from cartdesk.db.models import metadata

    return [ix for name in SEEDED_TABLES for ix in metadata.tables[name].indexes if not ix.unique]


def seed(db, n_orders: int) -> int:  # type: ignore[no-untyped-def]
    """The fastest path there is (as ``demo/bulk.py``): rows built as tuples and written through
    the driver (executemany on SQLite, COPY on PostgreSQL), secondary indexes dropped during the
    load and built once at the end, one transaction per batch."""
    import json

    from cartdesk.demo import loading
    from cartdesk.demo.bulk import _insert

    now = utcnow()
    with db.transaction() as session:
        brand = brands_service.create(session, slug="bench", name="Bench Store")
        brand_id = brand.id
    sqlite = db.dialect == "sqlite"

    def when(value):  # type: ignore[no-untyped-def]
        # What UTCDateTime stores: naive UTC text on SQLite, timestamptz on PostgreSQL.
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value

    stamp = when(now)
    address = json.dumps({"name": "X", "line1": "1 Road", "city": "Town", "country": "US"})
    n_customers = max(1, n_orders // 4)
    with db.engine.begin() as conn:
        for index in _secondary_indexes():
            index.drop(conn, checkfirst=True)
    for start in range(0, n_customers, BATCH):
        ids = range(start + 1, min(n_customers, start + BATCH) + 1)
        with db.engine.begin() as conn:
            _insert(conn, "customers", ("id", "name", "email", "is_vip", "custom_fields", "created_at", "updated_at"),
                    [(i, f"Customer {i}", f"c{i}@example.org", False, "{}", stamp, stamp) for i in ids])
            _insert(conn, "customer_identities", ("customer_id", "kind", "value", "verified"),
                    [(i, "email", f"c{i}@example.org", False) for i in ids])
    scans = (("label_created", "label created", 0), ("in_transit", "in transit", 20), ("delivered", "delivered", 40))
    for start in range(0, n_orders, BATCH):
        orders, lines, shipments, events = [], [], [], []
        for i in range(start + 1, min(n_orders, start + BATCH) + 1):
            customer = (i - 1) % n_customers + 1
            placed = now - timedelta(days=i % 400, minutes=i % 1440)
            at = when(placed)
            orders.append((i, brand_id, f"B{100000 + i}", customer, f"c{customer}@example.org", "open", "paid",
                           "fulfilled", "USD", 8900, 0, 0, 500, 9400, 9400, 0, address, "{}", at, "cartdesk",
                           stamp, stamp))
            lines.append((2 * i - 1, i, "SKU-0", "Trail runners", "", False, 1, 5900, 0, 0, 5900))
            lines.append((2 * i, i, "SKU-1", "Merino socks", "", False, 2, 1500, 0, 0, 3000))
            shipments.append((i, i, "UPS", f"1Z{i:010d}", "delivered", "[]", at, at, stamp, stamp))
            for k, (status, description, hours) in enumerate(scans):
                events.append((3 * i - 2 + k, i, when(placed + timedelta(hours=hours)), status, description,
                               "Reno, NV"))
        with db.engine.begin() as conn:
            _insert(conn, "orders", ("id", "brand_id", "number", "customer_id", "email", "status", "financial_status",
                                     "fulfillment_status", "currency", "subtotal", "discount_total", "tax_total",
                                     "shipping_total", "total", "paid_total", "refunded_total", "shipping_address",
                                     "billing_address", "placed_at", "source", "created_at", "updated_at"), orders)
            _insert(conn, "order_lines", ("id", "order_id", "sku", "title", "category", "final_sale", "quantity",
                                          "unit_price", "discount", "tax", "total"), lines)
            _insert(conn, "shipments", ("id", "order_id", "carrier", "tracking_number", "status", "items",
                                        "shipped_at", "delivered_at", "created_at", "updated_at"), shipments)
            _insert(conn, "tracking_events", ("id", "shipment_id", "occurred_at", "status", "description",
                                              "location"), events)
        if (start // BATCH) % 10 == 9:
            print(f"  {start + BATCH} orders", flush=True)
    with db.engine.begin() as conn:
        for index in _secondary_indexes():
            index.create(conn, checkfirst=True)
        if db.dialect == "postgresql":
            for table in SEEDED_TABLES:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        loading.analyze(conn)
    return n_customers


def existing(db) -> tuple[int, int] | None:  # type: ignore[no-untyped-def]
    """(orders, customers) of the seeded brand when the database already holds a seed."""
    with db.engine.connect() as conn:
        try:
            n_orders = conn.execute(text(
                "SELECT count(*) FROM orders o JOIN brands b ON b.id = o.brand_id WHERE b.slug = 'bench'")).scalar()
        except Exception:
            return None
        n_customers = conn.execute(text("SELECT count(*) FROM customers WHERE email LIKE 'c%@example.org'")).scalar()
    return (int(n_orders), int(n_customers)) if n_orders else None


def percentiles(samples: list[float], cpu: list[float] | None = None) -> dict[str, float]:
    """Wall-clock p50/p95; with ``cpu`` (process CPU seconds per sample) also the CPU p50/p95, which
    says what the work costs when other processes share the cores."""
    def p(values: list[float], q: float) -> float:
        values = sorted(values)
        return round((statistics.median(values) if q == 0.5 else values[int(len(values) * q) - 1]) * 1000, 2)

    out = {"p50_ms": p(samples, 0.5), "p95_ms": p(samples, 0.95), "n": len(samples)}
    if cpu:
        out |= {"cpu_p50_ms": p(cpu, 0.5), "cpu_p95_ms": p(cpu, 0.95)}
    return out


def bench_panel(db, n_customers: int, rounds: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from cartdesk.web.agent.store import panel
    from cartdesk.web.templating import create_templates

    template = create_templates().env.get_template("agent/_store_panel.html")
    rng, samples, cpu = random.Random(1), [], []
    for _ in range(rounds):
        customer_id = rng.randint(1, n_customers)
        start, start_cpu = time.perf_counter(), time.process_time()
        with db.transaction(read_only=True) as session:
            ctx = panel(session, customer_id=customer_id)
            html = template.render(**ctx, customer=session.get(Customer, customer_id), c=None, csrf_token="x")
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        assert 'data-order="B' in html
    return percentiles(samples, cpu)


def bench_lookup(db, n_orders: int, n_customers: int, rounds: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    rng, samples = random.Random(2), []
    with db.transaction(read_only=True) as session:
        brand = brands_service.resolve(session, ref="bench")
    cpu: list[float] = []
    for _ in range(rounds):
        i = rng.randint(1, n_orders)
        email = f"c{(i - 1) % n_customers + 1}@example.org"
        start, start_cpu = time.perf_counter(), time.process_time()
        with db.transaction(read_only=True) as session:
            order = portal.find_order(session, brand=brand, number=f"B{100000 + i}", email=email)
            assert order is not None
            token = portal.sign("bench-secret", order=order)
            assert portal.resolve(session, secret="bench-secret", token=token, brand=brand, max_age=3600) is not None
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return percentiles(samples, cpu)


def bench_import(db, n: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from tests.fakes.serve import serve
    from tests.fakes.shopify import FakeShopify

    from cartdesk.commerce import credentials, sync
    from cartdesk.commerce.connectors.registry import connector_for

    credentials.configure(Settings(database_url="sqlite://", secret_key="bench-secret-key"))
    fake = FakeShopify()
    for k in range(n):
        fake.add_order(number=500000 + k, email=f"shop{k % 5000}@example.org",
                       lines=[("SKU-0", "Trail runners", 1, "59.00"), ("SKU-1", "Merino socks", 2, "15.00")],
                       shipping="5.00", updated_at=f"2026-11-01T10:00:{k % 60:02d}-05:00")
    with db.transaction() as session:
        # A new brand per run: a re-run on a kept database imports n new orders again.
        brand = brands_service.create(session, slug=f"shop-{int(time.time())}", name="Shop")
        connection = StoreConnection(brand_id=brand.id, platform="shopify", base_url="http://x")
        credentials.seal(connection, credentials={"access_token": fake.token}, webhook_secret="s" * 16)
        session.add(connection)
        session.flush()
        connection_id = connection.id
    with serve(fake.app()) as url:
        with db.transaction() as session:
            session.get(StoreConnection, connection_id).base_url = url
        start, start_cpu, start_main = time.perf_counter(), time.process_time(), time.thread_time()
        report = sync.run_import(db.transaction, connection_id=connection_id, connector_factory=connector_for)
        elapsed = time.perf_counter() - start
        cpu, main_cpu = time.process_time() - start_cpu, time.thread_time() - start_main
    assert report.orders == n, report
    # cpu_s: this process (the import and the fake shop's thread); import_cpu_s: the importing thread alone.
    return {"orders": n, "pages": report.pages, "seconds": round(elapsed, 1), "minutes": round(elapsed / 60, 2),
            "orders_per_s": round(n / elapsed, 1), "cpu_s": round(cpu, 1), "import_cpu_s": round(main_cpu, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--import-orders", type=int, default=2_000)
    parser.add_argument("--reuse", action="store_true",
                        help="keep a database seeded by an earlier run (seeding 1M orders takes minutes)")
    parser.add_argument("--only", choices=("panel", "lookup", "import"), action="append",
                        help="run only these measurements (repeatable); default: all")
    args = parser.parse_args()
    only = set(args.only or ("panel", "lookup", "import"))
    db = create_database(args.database_url)
    held = existing(db) if args.reuse else None
    if held is None:
        if db.dialect == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade(db.engine)
        started = time.perf_counter()
        n_customers = seed(db, args.orders)
        n_orders = args.orders
        print(f"seeded {args.orders} orders for {n_customers} customers in {time.perf_counter() - started:.1f} s",
              flush=True)
    else:
        upgrade(db.engine)
        n_orders, n_customers = held
        print(f"reusing {n_orders} seeded orders for {n_customers} customers", flush=True)
    if "panel" in only:
        print("panel", bench_panel(db, n_customers, args.rounds), flush=True)
    if "lookup" in only:
        print("lookup", bench_lookup(db, n_orders, n_customers, args.rounds), flush=True)
    if "import" in only:
        print("import", bench_import(db, args.import_orders), flush=True)
    db.dispose()


if __name__ == "__main__":
    main()
