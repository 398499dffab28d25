"""The WooCommerce connector against the fake REST API v3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.commerce import credentials, refunds, sync
from cartdesk.commerce.connectors.registry import connector_for
from cartdesk.commerce.models import Order, OrderStatus, RefundStatus, StoreConnection
from cartdesk.commerce.schemas import RefundCreate
from tests.connectors.conftest import SECRET
from tests.factories.auth import make_user, principal
from tests.fakes.serve import serve
from tests.fakes.woocommerce import FakeWoo, signed_headers


@pytest.fixture(scope="module")
def woo_server() -> Iterator[tuple[FakeWoo, str]]:
    fake = FakeWoo()
    with serve(fake.app()) as url:
        yield fake, url


@pytest.fixture
def woo(woo_server, session: Session, brand):  # type: ignore[no-untyped-def]
    fake, url = woo_server
    fake.orders.clear(), fake.products.clear(), fake.calls.clear()
    connection = StoreConnection(brand_id=brand.id, platform="woocommerce", base_url=url)
    credentials.seal(connection, credentials={"consumer_key": fake.key, "consumer_secret": fake.secret},
                     webhook_secret=SECRET)
    session.add(connection)
    session.flush()
    return fake, connection


def _order(session: Session, connection, raw) -> Order:  # type: ignore[no-untyped-def]
    return session.scalar(select(Order).where(Order.brand_id == connection.brand_id, Order.external_id == str(raw["id"])))


def test_import_pages_by_total_pages_and_resumes_from_the_high_water_mark(session: Session, woo) -> None:  # type: ignore[no-untyped-def]
    fake, connection = woo
    for n in range(5):
        fake.add_order(email=f"w{n}@example.org", lines=[("THROW", "Merino throw", 1, "149.00")], shipping="6.50",
                       modified=f"2026-11-01T10:0{n}:00")
    fake.products.append({"id": 1, "name": "Merino throw", "sku": "THROW", "price": "149.00", "description": "",
                          "categories": [{"name": "Throws"}], "stock_quantity": 3, "date_modified_gmt": "2026-10-01T00:00:00"})
    fake.rate_limit_next = 1
    from cartdesk.commerce.connectors import woocommerce as woo_module

    @contextmanager
    def transaction():  # type: ignore[no-untyped-def]
        with session.begin_nested():
            yield session

    original, woo_module.PAGE_SIZE = woo_module.PAGE_SIZE, 2
    try:
        report = sync.run_import(transaction, connection_id=connection.id,
                                 connector_factory=lambda c: connector_for(c, sleep=lambda s: None))
        assert (report.orders, report.products) == (5, 1)
        assert sum("orders?" in c and "page=3" in c for c in fake.calls) == 1 and not any("page=4" in c for c in fake.calls)
        order = _order(session, connection, fake.orders[0])
        assert (order.total, order.currency, order.shipping_address["city"]) == (Decimal("155.50"), "EUR", "Aarhus")
        fake.add_order(email="late@example.org", lines=[("THROW", "Merino throw", 2, "149.00")], modified="2026-11-02T08:00:00")
        fake.calls.clear()
        again = sync.run_import(transaction, connection_id=connection.id, connector_factory=connector_for)
        assert again.orders == 1
        assert any("modified_after=2026-11-01T10%3A04%3A00" in c for c in fake.calls)
    finally:
        woo_module.PAGE_SIZE = original


def test_signed_webhooks_apply_once_and_forgeries_change_nothing(client, session: Session, woo, runner) -> None:  # type: ignore[no-untyped-def]
    fake, connection = woo
    raw = fake.add_order(email="bo@example.org", lines=[("TOWEL", "Towel set", 2, "29.50")])
    body = json.dumps(raw).encode()
    url = f"/webhooks/woocommerce/{connection.id}"
    bad = client.post(url, content=body, headers=signed_headers("wrong", body, topic="order.created", delivery_id="1"))
    assert bad.status_code == 401 and _order(session, connection, raw) is None
    assert client.post(f"/webhooks/shopify/{connection.id}", content=body, headers={}).status_code == 401
    ok = client.post(url, content=body, headers=signed_headers(SECRET, body, topic="order.created", delivery_id="1"))
    assert ok.json() == {"status": "queued"}
    again = client.post(url, content=body, headers=signed_headers(SECRET, body, topic="order.created", delivery_id="1"))
    assert again.json() == {"status": "duplicate"}
    assert runner.run_pending() == 1
    assert _order(session, connection, raw).total == Decimal("59.00")
    cancelled = json.dumps({**raw, "status": "cancelled", "date_modified_gmt": "2026-11-01T12:00:00"}).encode()
    client.post(url, content=cancelled, headers=signed_headers(SECRET, cancelled, topic="order.updated", delivery_id="2"))
    assert runner.run_pending() == 1
    order = _order(session, connection, raw)
    session.refresh(order)
    assert order.status == OrderStatus.cancelled and order.total == Decimal("59.00")


def test_refund_in_cartdesk_becomes_a_woocommerce_refund(session: Session, woo, runner) -> None:  # type: ignore[no-untyped-def]
    fake, connection = woo
    raw = fake.add_order(email="cy@example.org", lines=[("SHEET", "Percale sheets", 1, "139.00")], shipping="6.50")
    sync.upsert_order(session, connection=connection, ext=connector_for(connection).to_order(raw))
    order = _order(session, connection, raw)
    refund = refunds.request_refund(session, principal=principal(make_user(session, role=Role.admin)), order=order,
                                    refund_in=RefundCreate(order_id=order.id, lines=[{"line_id": order.lines[0].id, "quantity": 1}]))
    session.commit()
    assert runner.run_pending() == 1
    session.refresh(refund)
    assert refund.status == RefundStatus.succeeded and raw["refunds"][0]["total"] == "-139.00"
    # The shop's next version of the order lists that refund: it is recognised, not added again.
    sync.upsert_order(session, connection=connection, ext=connector_for(connection).to_order(
        {**raw, "date_modified_gmt": "2026-11-03T00:00:00"}))
    assert order.refunded_total == Decimal("139.00")


def test_a_refund_the_shop_refuses_is_marked_failed_and_frees_its_amount(session: Session, woo, runner) -> None:  # type: ignore[no-untyped-def]
    from cartdesk.conversations import service as conversations_service
    from tests.factories.conversations import make_conversation

    fake, connection = woo
    raw = fake.add_order(email="dee@example.org", lines=[("RUNNER", "Table runner", 1, "45.00")])
    sync.upsert_order(session, connection=connection, ext=connector_for(connection).to_order(raw))
    order = _order(session, connection, raw)
    conversation = make_conversation(session, email="dee@example.org")
    # Someone already refunded it in the WordPress admin; that change has not reached Cartdesk yet.
    raw["refunds"].append({"id": 999, "reason": "", "total": "-45.00"})
    refund = refunds.request_refund(session, principal=principal(make_user(session, role=Role.admin)), order=order,
                                    refund_in=RefundCreate(order_id=order.id, conversation_id=conversation.id,
                                                           lines=[{"line_id": order.lines[0].id, "quantity": 1}]))
    assert order.refunded_total == Decimal("45.00")
    session.commit()
    assert runner.run_pending() == 1
    session.refresh(refund)
    session.refresh(order)
    assert refund.status == RefundStatus.failed and "400" in refund.error
    assert order.refunded_total == Decimal("0.00")  # freed: the next sync brings the shop's own refund
    last = conversations_service.list_messages(session, conversation_id=conversation.id)[-1]
    assert last.body_text.startswith(f"The refund of €45.00 on order {order.number} failed:")
