"""The Shopify connector against the fake Admin API: incremental import, webhooks, actions in the shop."""

from __future__ import annotations

import json
from contextlib import contextmanager
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.commerce import actions, refunds, shipments, sync
from cartdesk.commerce import service as commerce_service
from cartdesk.commerce.connectors.registry import connector_for
from cartdesk.commerce.models import FinancialStatus, Order, OrderStatus, RefundStatus
from cartdesk.commerce.schemas import RefundCreate
from cartdesk.jobs.models import Job
from tests.connectors.conftest import SECRET
from tests.factories.auth import make_user, principal
from tests.fakes.shopify import signed_headers


def _import(session: Session, connection) -> sync.ImportReport:  # type: ignore[no-untyped-def]
    @contextmanager
    def transaction():  # type: ignore[no-untyped-def]
        with session.begin_nested():
            yield session

    return sync.run_import(transaction, connection_id=connection.id,
                           connector_factory=lambda c: connector_for(c, sleep=lambda s: None))


def _order(session: Session, connection, external_id) -> Order:  # type: ignore[no-untyped-def]
    return session.scalar(select(Order).where(Order.brand_id == connection.brand_id, Order.external_id == str(external_id)))


def test_import_follows_link_pagination_waits_out_429_and_is_incremental(session: Session, shopify) -> None:  # type: ignore[no-untyped-def]
    fake, connection = shopify
    for n in range(1, 8):
        fake.add_order(number=1000 + n, email=f"buyer{n}@example.org", lines=[("TENT-2", "Alpine tent", 1, "249.00")],
                       shipping="9.95", updated_at=f"2026-11-01T10:0{n}:00-05:00")
    fake.products.append({"id": 1, "title": "Alpine tent", "body_html": "<p>Light</p>", "product_type": "Camping",
                          "updated_at": "2026-11-01T09:00:00-05:00",
                          "variants": [{"id": 11, "title": "Default Title", "sku": "TENT-2", "price": "249.00",
                                        "inventory_quantity": 4}]})
    fake.rate_limit_next = 2
    from cartdesk.commerce.connectors import shopify as shopify_module

    original, shopify_module.PAGE_SIZE = shopify_module.PAGE_SIZE, 3
    try:
        report = _import(session, connection)
        assert (report.orders, report.products) == (7, 1)
        page_calls = [u for m, u in fake.calls if "/orders.json" in u]
        assert sum("page_info=" in u for u in page_calls) == 2  # three pages, the Link header followed twice
        order = _order(session, connection, fake.orders[0]["id"])
        assert (order.number, order.total, order.paid_total, order.source) == ("1001", Decimal("258.95"), Decimal("258.95"), "shopify")
        assert order.lines[0].external_id == str(fake.orders[0]["line_items"][0]["id"])
        # Nothing changed since: the next run asks only for newer rows and creates nothing.
        fake.calls.clear()
        again = _import(session, connection)
        assert again.orders == 1  # the newest one (updated_at >= the high-water mark) comes back, and is a no-op
        assert "updated_at_min=2026-11-01T10%3A07%3A00-05%3A00" in next(u for _, u in fake.calls if "/orders.json" in u)
        assert session.scalar(select(func.count()).select_from(Order).where(Order.brand_id == connection.brand_id)) == 7
    finally:
        shopify_module.PAGE_SIZE = original


def _post(client, connection, topic: str, payload: dict, *, webhook_id: str, secret: str = SECRET):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    return client.post(f"/webhooks/shopify/{connection.id}", content=body,
                       headers=signed_headers(secret, body, topic=topic, webhook_id=webhook_id))


def test_webhooks_are_verified_idempotent_and_never_go_backwards(client, session: Session, shopify) -> None:  # type: ignore[no-untyped-def]
    fake, connection = shopify
    raw = fake.add_order(number=2001, email="cy@example.org", lines=[("POLE", "Poles", 2, "69.00")])
    forged = _post(client, connection, "orders/create", raw, webhook_id="w-1", secret="not-the-secret")
    assert forged.status_code == 401 and _order(session, connection, raw["id"]) is None
    assert _post(client, connection, "orders/create", raw, webhook_id="w-1").json() == {"status": "order"}
    order = _order(session, connection, raw["id"])
    assert order.total == Decimal("138.00") and order.status == OrderStatus.open
    # A newer version cancels it; replaying that delivery, or the older one, changes nothing.
    newer = {**raw, "updated_at": "2026-11-01T12:00:00-05:00", "cancelled_at": "2026-11-01T12:00:00-05:00"}
    assert _post(client, connection, "orders/cancelled", newer, webhook_id="w-2").json() == {"status": "order"}
    session.refresh(order)
    assert order.status == OrderStatus.cancelled
    assert _post(client, connection, "orders/cancelled", newer, webhook_id="w-2").json() == {"status": "duplicate"}
    stale = {**raw, "updated_at": "2026-11-01T11:00:00-05:00", "cancelled_at": None, "email": "eve@example.org"}
    assert _post(client, connection, "orders/updated", stale, webhook_id="w-3").json() == {"status": "order"}
    session.refresh(order)
    assert order.status == OrderStatus.cancelled and order.email == "cy@example.org"
    # Tampering with a signed body breaks the signature.
    body = json.dumps(newer).encode()
    headers = signed_headers(SECRET, body, topic="orders/updated", webhook_id="w-4")
    tampered = client.post(f"/webhooks/shopify/{connection.id}", content=body.replace(b"cy@", b"ev@"), headers=headers)
    assert tampered.status_code == 401


def test_a_refund_made_in_cartdesk_is_carried_out_in_the_shop_once(session: Session, shopify, runner) -> None:  # type: ignore[no-untyped-def]
    fake, connection = shopify
    raw = fake.add_order(number=3001, email="di@example.org", lines=[("BOOT", "Boots", 1, "159.00")], shipping="5.00")
    sync.upsert_order(session, connection=connection, ext=connector_for(connection).to_order(raw))
    order = _order(session, connection, raw["id"])
    supervisor = principal(make_user(session, role=Role.supervisor))
    refund = refunds.request_refund(session, principal=supervisor, order=order, refund_in=RefundCreate(
        order_id=order.id, lines=[{"line_id": order.lines[0].id, "quantity": 1}], shipping=Decimal("5.00")))
    assert refund.status == RefundStatus.pending  # queued for the shop, visible as pending
    assert order.financial_status == FinancialStatus.refunded
    fake.fail_next = 1  # the shop is down on the first try
    session.commit()
    assert runner.run_pending() == 1
    session.refresh(refund)
    assert refund.status == RefundStatus.pending and fake.refund_requests == []
    job = session.scalar(select(Job).where(Job.name == "commerce.refund.execute"))
    job.run_at = runner.clock.now  # due again now rather than after the backoff
    session.commit()
    assert runner.run_pending() == 1
    session.refresh(refund)
    assert refund.status == RefundStatus.succeeded and refund.external_id is not None
    assert len(fake.refund_requests) == 1
    assert fake.refund_requests[0]["refund_line_items"][0]["line_item_id"] == raw["line_items"][0]["id"]
    assert fake.refund_requests[0]["transactions"][0]["amount"] == "164.00"
    assert fake.refund_requests[0]["transactions"][0]["parent_id"] == raw["_transactions"][0]["id"]
    # The refunds/create webhook for it comes back: the order is fetched again, nothing doubles.
    sync.upsert_order(session, connection=connection, ext=connector_for(connection).to_order(
        {**raw, "updated_at": "2026-11-03T10:00:00-05:00"}))
    assert len(refunds.taken(session, order=order).lines) == 1 and order.refunded_total == Decimal("164.00")


def test_cancel_in_cartdesk_cancels_in_the_shop(session: Session, shopify, runner) -> None:  # type: ignore[no-untyped-def]
    fake, connection = shopify
    raw = fake.add_order(number=4001, email="ed@example.org", lines=[("CAP", "Cap", 1, "25.00")])
    sync.upsert_order(session, connection=connection, ext=connector_for(connection).to_order(raw))
    order = _order(session, connection, raw["id"])
    actions.cancel_order(session, principal=principal(make_user(session)), order=order, reason="Duplicate")
    session.commit()
    assert runner.run_pending() == 1
    assert raw["cancelled_at"] is not None
    (refund,) = commerce_service.refunds_for_order(session, order_id=order.id)
    session.refresh(refund)
    assert refund.status == RefundStatus.succeeded


def test_address_change_and_reship_reach_the_shop(session: Session, shopify, runner) -> None:  # type: ignore[no-untyped-def]
    from cartdesk.commerce.schemas import Address, ShipmentCreate

    fake, connection = shopify
    raw = fake.add_order(number=5001, email="fi@example.org", lines=[("MUG", "Mug", 2, "12.00")])
    sync.upsert_order(session, connection=connection, ext=connector_for(connection).to_order(raw))
    order = _order(session, connection, raw["id"])
    agent = principal(make_user(session))
    actions.change_address(session, principal=agent, order=order, address=Address(
        name="Fi Ng", line1="9 Elm St", city="Boulder", region="CO", postal_code="80301", country="US"))
    session.commit()
    assert runner.run_pending() == 1
    assert raw["shipping_address"]["address1"] == "9 Elm St" and raw["shipping_address"]["city"] == "Boulder"
    shipments.create_shipment(session, actor=agent.actor, shipment_in=ShipmentCreate(
        order_id=order.id, carrier="UPS", tracking_number="1Z999"))
    replacement = actions.reship(session, principal=agent, order=order, reason="Lost")
    session.commit()
    assert runner.run_pending() == 1
    session.refresh(replacement)
    created = next(o for o in fake.orders if str(o["id"]) == replacement.external_id)
    assert created["line_items"][0]["sku"] == "MUG" and created["line_items"][0]["price"] == "0.00"
    assert "replaces-5001" in created["tags"]


def test_a_refund_made_in_shopify_arrives_through_its_webhook(client, session: Session, shopify, runner) -> None:  # type: ignore[no-untyped-def]
    fake, connection = shopify
    raw = fake.add_order(number=6001, email="gu@example.org", lines=[("TENT", "Tent", 1, "249.00")])
    _post(client, connection, "orders/create", raw, webhook_id="r-1")
    order = _order(session, connection, raw["id"])
    # Someone refunds in the Shopify admin: Shopify changes the order and sends refunds/create.
    refund = {"id": 77001, "order_id": raw["id"], "created_at": "2026-11-04T09:00:00-05:00",
              "transactions": [{"amount": "49.00", "kind": "refund", "status": "success"}],
              "refund_line_items": [{"line_item_id": raw["line_items"][0]["id"], "quantity": 1,
                                     "subtotal": "49.00", "total_tax": "0.00"}]}
    raw["refunds"].append(refund)
    raw["updated_at"] = "2026-11-04T09:00:00-05:00"
    assert _post(client, connection, "refunds/create", refund, webhook_id="r-2").json() == {"status": "refetch"}
    assert _post(client, connection, "refunds/create", refund, webhook_id="r-2").json() == {"status": "duplicate"}
    session.commit()
    assert runner.run_pending() == 1  # one refetch job: the replay queued nothing
    session.refresh(order)
    assert order.refunded_total == Decimal("49.00") and order.financial_status == FinancialStatus.partially_refunded
    (recorded,) = commerce_service.refunds_for_order(session, order_id=order.id)
    assert (recorded.external_id, recorded.status, recorded.lines[0].quantity) == ("77001", RefundStatus.succeeded, 1)
    # Applying the same order version again changes nothing.
    sync.upsert_order(session, connection=connection, ext=connector_for(connection).to_order(raw))
    assert len(commerce_service.refunds_for_order(session, order_id=order.id)) == 1
