"""Store credit: a return settled as store credit issues credit once, into a per-customer ledger
whose balance the customer 360 shows; approvals, merges and manual adjustments keep it exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.commerce import refunds, returns, store_credit
from cartdesk.commerce.models import (
    RefundMethod,
    RefundStatus,
    ReturnStatus,
    StoreCreditEntry,
    StoreCreditKind,
)
from cartdesk.commerce.schemas import RefundCreate, ReturnCreate
from cartdesk.customers import service as customers_service
from cartdesk.customers.models import Customer
from cartdesk.events.models import Event
from cartdesk.events.schemas import SYSTEM
from cartdesk.kit.errors import Conflict, Forbidden
from tests.factories.auth import make_user, principal
from tests.factories.commerce import make_order, make_product, ship
from tests.factories.conversations import make_brand


def _settled_as_credit(session: Session, brand, *, email: str = "ines@example.org"):  # type: ignore[no-untyped-def]
    boots = make_product(session, brand=brand, title="Boots", price="80.00", stock=4)
    order = make_order(session, brand=brand, email=email, lines=[{"sku": boots.sku, "quantity": 1}])
    ship(session, order=order, delivered_days_ago=3)
    ret = returns.create_return(session, actor=SYSTEM, order=order, return_in=ReturnCreate(
        order_id=order.id, resolution="store_credit", items=[{"line_id": order.lines[0].id, "condition": "opened"}]))
    assert ret.restocking_fee == Decimal("0.00")  # waived for store credit
    supervisor = principal(make_user(session, role=Role.supervisor))
    returns.transition(session, principal=supervisor, ret=ret, status=ReturnStatus.received)
    returns.transition(session, principal=supervisor, ret=ret, status=ReturnStatus.refunded)
    return order, ret


def _events(session: Session, customer_id: int) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.subject_type == "customer", Event.subject_id == customer_id,
                                                    Event.verb.like("store_credit.%")).order_by(Event.id)))


def test_a_return_refunded_as_store_credit_issues_it_into_the_ledger(session: Session) -> None:
    brand = make_brand(session)
    order, ret = _settled_as_credit(session, brand)
    [entry] = session.scalars(select(StoreCreditEntry).where(StoreCreditEntry.customer_id == order.customer_id))
    assert (entry.amount, entry.currency, entry.kind) == (Decimal("80.00"), order.currency, StoreCreditKind.issued)
    assert entry.return_id == ret.id and entry.order_id == order.id and entry.refund_id is not None
    assert ret.rma in entry.note
    assert store_credit.balance(session, customer_id=order.customer_id, brand_id=brand.id,
                                currency=order.currency) == Decimal("80.00")
    [event] = _events(session, order.customer_id)
    assert event.verb == "store_credit.issued" and event.data["amount"] == "80.00" and event.data["balance"] == "80.00"
    # Recording the refund's success again issues nothing more.
    refund = session.get(refunds.Refund, entry.refund_id)
    assert refund.method == RefundMethod.store_credit and refund.status == RefundStatus.succeeded
    assert store_credit.issue_for_refund(session, actor=SYSTEM, refund=refund, order=order).id == entry.id
    assert len(list(session.scalars(select(StoreCreditEntry).where(StoreCreditEntry.refund_id == refund.id)))) == 1


def test_credit_above_the_limit_is_issued_only_when_a_supervisor_approves(session: Session) -> None:
    brand = make_brand(session)
    order = make_order(session, brand=brand)  # 40.00 + 3 × 12.50 + 5.00 shipping
    refunds.set_limit(session, actor=SYSTEM, role="agent", amount=Decimal("20"))
    agent = principal(make_user(session, role=Role.agent))
    refund = refunds.request_refund(session, principal=agent, order=order, refund_in=RefundCreate(
        order_id=order.id, lines=[{"line_id": order.lines[0].id, "quantity": 1}], method="store_credit"))
    assert refund.status == RefundStatus.awaiting_approval
    assert store_credit.balances(session, customer_ids=[order.customer_id]) == []
    supervisor = principal(make_user(session, role=Role.supervisor))
    refunds.decide(session, principal=supervisor, refund=refund, approve=True)
    [held] = store_credit.balances(session, customer_ids=[order.customer_id])
    assert (held.amount, held.currency) == (Decimal("40.00"), order.currency)
    assert _events(session, order.customer_id)[0].actor_id == supervisor.user_id


def test_an_order_without_a_customer_cannot_take_store_credit(session: Session) -> None:
    brand = make_brand(session)
    order = make_order(session, brand=brand)
    order.customer_id = None
    admin = principal(make_user(session, role=Role.admin))
    with pytest.raises(Conflict, match="no customer to hold store credit"):
        refunds.request_refund(session, principal=admin, order=order, refund_in=RefundCreate(
            order_id=order.id, lines=[{"line_id": order.lines[0].id, "quantity": 1}], method="store_credit"))
    assert order.refunded_total == 0


def test_adjustments_never_take_a_balance_below_zero_and_merges_add_up(session: Session) -> None:
    brand = make_brand(session)
    order, _ = _settled_as_credit(session, brand, email="kai@example.org")
    supervisor = principal(make_user(session, role=Role.supervisor))
    agent = principal(make_user(session, role=Role.agent))
    kw = {"customer_id": order.customer_id, "brand_id": brand.id, "currency": order.currency}
    with pytest.raises(Forbidden):
        store_credit.adjust(session, principal=agent, amount=Decimal("5"), note="goodwill", **kw)
    with pytest.raises(Conflict, match="cannot go below zero"):
        store_credit.adjust(session, principal=supervisor, amount=Decimal("-80.01"), note="spent in store", **kw)
    store_credit.adjust(session, principal=supervisor, amount=Decimal("-30.00"), note="spent in store",
                        kind=StoreCreditKind.redeemed, **kw)
    assert store_credit.balance(session, **kw) == Decimal("50.00")
    # The same person's second address, merged in: one balance over both ledgers.
    other, _ = _settled_as_credit(session, brand, email="kai.work@example.org")
    customers_service.merge(session, actor=SYSTEM, target=session.get(Customer, order.customer_id),
                            source=session.get(Customer, other.customer_id))
    assert store_credit.balance(session, **kw) == Decimal("130.00")
    assert [e.data["balance"] for e in _events(session, order.customer_id)] == ["80.00", "50.00"]
