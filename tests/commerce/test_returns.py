from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.commerce import returns
from cartdesk.commerce.models import RefundStatus, ReturnStatus, StockLevel
from cartdesk.commerce.schemas import ReturnCreate
from cartdesk.events.schemas import SYSTEM
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict
from tests.factories.auth import make_user, principal
from tests.factories.commerce import make_order, make_product, ship
from tests.factories.conversations import make_brand


def _reasons(session: Session, order, items, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    decisions = returns.check_return(session, order=order, return_in=ReturnCreate(order_id=order.id, items=items, **kw))
    return [d.decision.reason for d in decisions if not d.decision.eligible]


def test_policy_decisions_carry_readable_reasons(session: Session) -> None:
    brand = make_brand(session)
    sale = make_product(session, brand=brand, title="Linen shirt", final_sale=True)
    lip = make_product(session, brand=brand, title="Lip balm", category="Personal care")
    mug = make_product(session, brand=brand, title="Mug", category="Home")
    order = make_order(session, brand=brand, lines=[{"sku": s.sku, "quantity": 1} for s in (sale, lip, mug)])
    sale_id, lip_id, mug_id = (li.id for li in order.lines)
    assert _reasons(session, order, [{"line_id": mug_id}]) == [
        "This order has not been delivered yet; a return can start once it arrives."]
    ship(session, order=order, delivered_days_ago=45)
    reasons = _reasons(session, order, [{"line_id": sale_id}, {"line_id": lip_id}, {"line_id": mug_id}])
    assert reasons[0] == "Linen shirt was a final-sale item; final-sale items cannot be returned."
    assert reasons[1].startswith("Lip balm is in Personal care, which cannot be returned")
    assert reasons[2].startswith("Mug was delivered 45 days ago, outside the 30-day return window (it closed on ")
    # Faulty goods come back after the window too.
    assert _reasons(session, order, [{"line_id": mug_id, "reason": "defective", "condition": "used"}]) == []
    with pytest.raises(Conflict, match="final-sale") as refused:
        returns.create_return(session, actor=SYSTEM, order=order, return_in=ReturnCreate(
            order_id=order.id, items=[{"line_id": sale_id}, {"line_id": mug_id, "reason": "defective"}]))
    assert [i["eligible"] for i in refused.value.details["items"]] == [False, True]
    assert returns.returnable_units(session, order=order)[mug_id] == 1  # nothing was created


def test_a_return_goes_from_approved_to_received_to_refunded_less_the_fee(session: Session) -> None:
    brand = make_brand(session)
    boots = make_product(session, brand=brand, title="Boots", price="80.00", stock=4)
    socks = make_product(session, brand=brand, title="Socks", price="9.00", stock=4)
    order = make_order(session, brand=brand, lines=[{"sku": boots.sku, "quantity": 1}, {"sku": socks.sku, "quantity": 2}])
    ship(session, order=order, delivered_days_ago=5)
    boots_id, socks_id = (li.id for li in order.lines)
    ret = returns.create_return(session, actor=SYSTEM, order=order, return_in=ReturnCreate(
        order_id=order.id, reason="too_small",
        items=[{"line_id": boots_id, "condition": "opened"}, {"line_id": socks_id, "quantity": 2}]))
    assert ret.status == ReturnStatus.approved and ret.rma.startswith("R") and len(ret.rma) == 9
    assert ret.restocking_fee == Decimal("8.00")  # 10% of the opened boots
    assert returns.returnable_units(session, order=order) == {boots_id: 0, socks_id: 0}
    supervisor = principal(make_user(session, role=Role.supervisor))
    with pytest.raises(Conflict, match="cannot become refunded"):
        returns.transition(session, principal=supervisor, ret=ret, status=ReturnStatus.refunded)
    returns.transition(session, principal=supervisor, ret=ret, status=ReturnStatus.received)
    # Unopened socks go back on the shelf; opened boots do not.
    assert session.get(StockLevel, (socks.id, "main")).quantity == 4
    assert session.get(StockLevel, (boots.id, "main")).quantity == 3
    returns.transition(session, principal=supervisor, ret=ret, status=ReturnStatus.refunded)
    (refund,) = list(order_refunds(session, order.id))
    assert refund.status == RefundStatus.succeeded and refund.return_id == ret.id
    assert refund.amount == Decimal("80.00") + Decimal("18.00") - Decimal("8.00")


def order_refunds(session: Session, order_id: int):  # type: ignore[no-untyped-def]
    from cartdesk.commerce import service

    return service.refunds_for_order(session, order_id=order_id)


def test_the_window_runs_from_delivery_not_from_the_order(session: Session) -> None:
    brand = make_brand(session)
    order = make_order(session, brand=brand, placed_at=utcnow() - timedelta(days=60))
    ship(session, order=order, delivered_days_ago=29)
    assert _reasons(session, order, [{"line_id": order.lines[0].id}]) == []


def test_store_credit_and_exchange_settle_without_a_payment_refund(session: Session) -> None:
    from cartdesk.commerce import service
    from cartdesk.commerce.models import Order, RefundMethod

    brand = make_brand(session)
    jacket = make_product(session, brand=brand, title="Rain jacket", price="120.00")
    staff = principal(make_user(session, role=Role.supervisor))
    credit_order = make_order(session, brand=brand, lines=[{"sku": jacket.sku, "quantity": 1}], shipping="0")
    swap_order = make_order(session, brand=brand, lines=[{"sku": jacket.sku, "quantity": 1}], shipping="0")
    for order, resolution in ((credit_order, "store_credit"), (swap_order, "exchange")):
        ship(session, order=order, delivered_days_ago=3)
        ret = returns.create_return(session, actor=SYSTEM, order=order, return_in=ReturnCreate(
            order_id=order.id, resolution=resolution, items=[{"line_id": order.lines[0].id, "condition": "opened"}]))
        assert ret.restocking_fee == 0  # the fee is waived for credit and exchanges
        returns.transition(session, principal=staff, ret=ret, status=ReturnStatus.received)
        returns.transition(session, principal=staff, ret=ret, status=ReturnStatus.refunded)
    (credit,) = service.refunds_for_order(session, order_id=credit_order.id)
    assert (credit.method, credit.status, credit.amount) == (RefundMethod.store_credit, RefundStatus.succeeded,
                                                             Decimal("120.00"))
    assert service.refunds_for_order(session, order_id=swap_order.id) == []
    from sqlalchemy import select

    (replacement,) = session.scalars(select(Order).where(Order.replacement_of_id == swap_order.id)).all()
    assert replacement.total == 0 and replacement.lines[0].sku == jacket.sku
