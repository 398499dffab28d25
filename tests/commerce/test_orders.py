from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.commerce import service, shipments
from cartdesk.commerce.models import DiscountCode, FulfillmentStatus, InventoryMovement, Order, StockLevel
from cartdesk.commerce.schemas import OrderCreate
from cartdesk.events.models import Event
from cartdesk.events.schemas import SYSTEM
from cartdesk.kit.errors import Conflict, ValidationFailed
from tests.factories.commerce import make_order, make_product, ship
from tests.factories.conversations import make_brand


def test_order_totals_are_computed_and_stored_exactly(session: Session) -> None:
    brand = make_brand(session)
    shirt = make_product(session, brand=brand, price="19.99", stock=5)
    order = make_order(session, brand=brand, lines=[
        {"sku": shirt.sku, "quantity": 3, "tax": "6.00", "discount": "0.97"},
        {"sku": "GIFT-WRAP", "title": "Gift wrap", "unit_price": "2.50", "quantity": 1},
    ], shipping="4.95")
    session.expire_all()
    order = session.get(Order, order.id)
    assert order.subtotal == Decimal("62.47")
    assert [li.total for li in order.lines] == [Decimal("65.00"), Decimal("2.50")]
    assert order.total == Decimal("72.45") == order.paid_total
    assert order.tax_total == Decimal("6.00") and order.discount_total == Decimal("0.97")
    assert order.customer_id is not None and order.email.startswith("buyer")
    assert session.get(StockLevel, (shirt.id, "main")).quantity == 2
    moves = session.scalars(select(InventoryMovement).where(InventoryMovement.product_id == shirt.id)).all()
    assert [(m.delta, m.reason) for m in moves] == [(5, "initial"), (-3, "sale")]
    assert session.scalar(select(Event.verb).where(Event.subject_type == "order", Event.subject_id == order.id)) == "order.created"


def test_a_discount_code_is_spread_over_the_lines_to_the_cent(session: Session) -> None:
    brand = make_brand(session)
    session.add(DiscountCode(brand_id=brand.id, code="WELCOME10", kind="percent", value=Decimal("10")))
    a = make_product(session, brand=brand, price="33.33")
    b = make_product(session, brand=brand, price="10.00")
    order = make_order(session, brand=brand, lines=[{"sku": a.sku, "quantity": 1}, {"sku": b.sku, "quantity": 2}],
                       discount_code="welcome10", shipping="0")
    assert order.discount_total == Decimal("5.33")
    assert sum(li.discount for li in order.lines) == order.discount_total
    assert order.total == Decimal("48.00")
    with pytest.raises(ValidationFailed, match="not valid"):
        make_order(session, brand=brand, discount_code="NOPE")


def test_bad_orders_are_refused_with_the_reason(session: Session) -> None:
    brand = make_brand(session)
    order = make_order(session, brand=brand, number="A-1")
    with pytest.raises(Conflict, match="already exists"):
        make_order(session, brand=brand, number="A-1")
    with pytest.raises(ValidationFailed, match="not in the catalogue"):
        service.create_order(session, actor=SYSTEM, order_in=OrderCreate(
            brand=brand.id, number="A-2", email="x@example.org", lines=[{"sku": "NOPE", "quantity": 1}]))
    with pytest.raises(ValidationFailed, match="paid_total"):
        make_order(session, brand=brand, paid_total=Decimal("1000"))
    assert service.get_order_by_number(session, brand_id=brand.id, number="#A-1").id == order.id


def test_shipments_drive_fulfilment_and_the_delivery_date(session: Session) -> None:
    brand = make_brand(session)
    order = make_order(session, brand=brand)
    assert shipments.delivered_at(order) is None
    ship(session, order=order, delivered_days_ago=2)
    assert order.fulfillment_status == FulfillmentStatus.fulfilled
    shipment = order.shipments[0]
    assert shipment.status == "delivered" and [e.status for e in shipment.events] == ["in_transit", "delivered"]
    assert shipments.delivered_at(order) == shipment.delivered_at


def test_lifetime_value_counts_paid_less_refunded(session: Session) -> None:
    brand = make_brand(session)
    first = make_order(session, brand=brand, email="ltv@example.org")
    make_order(session, brand=brand, customer_id=first.customer_id)
    value, count, currency = service.lifetime_value(session, customer_id=first.customer_id)
    assert count == 2 and currency == "USD"
    assert value == first.total * 2


def test_a_merged_customer_shows_one_history(session: Session) -> None:
    from cartdesk.customers import service as customers_service

    brand = make_brand(session)
    work = make_order(session, brand=brand, email="ada@work.example")
    home = make_order(session, brand=brand, email="ada@home.example")
    target = customers_service.get_or_raise(session, customer_id=home.customer_id)
    source = customers_service.get_or_raise(session, customer_id=work.customer_id)
    customers_service.merge(session, actor=SYSTEM, target=target, source=source)
    assert {o.id for o in service.orders_for_customer(session, customer_id=target.id)} == {work.id, home.id}
    assert service.lifetime_value(session, customer_id=target.id)[1] == 2
