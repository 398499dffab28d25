import contextlib
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.commerce import refunds
from cartdesk.commerce import service as commerce_service
from cartdesk.commerce.models import FinancialStatus, RefundStatus
from cartdesk.commerce.schemas import RefundCreate
from cartdesk.conversations import service as conversations_service
from cartdesk.events.models import Event
from cartdesk.events.schemas import SYSTEM
from cartdesk.kit.errors import AppError, Conflict, Forbidden
from tests.factories.auth import make_user, principal
from tests.factories.commerce import make_order, make_product
from tests.factories.conversations import make_brand, make_conversation


def _admin(session: Session):  # type: ignore[no-untyped-def]
    return principal(make_user(session, role=Role.admin))


def test_partial_refunds_of_a_line_add_up_to_exactly_its_total(session: Session) -> None:
    brand = make_brand(session)
    p = make_product(session, brand=brand, price="10.00")
    order = make_order(session, brand=brand, lines=[{"sku": p.sku, "quantity": 3, "discount": "0.01"}], shipping="4.99")
    line = order.lines[0]
    assert line.total == Decimal("29.99")
    admin = _admin(session)
    amounts = [refunds.request_refund(session, principal=admin, order=order, refund_in=RefundCreate(
        order_id=order.id, lines=[{"line_id": line.id, "quantity": 1}])).amount for _ in range(3)]
    assert amounts == [Decimal("10.00"), Decimal("9.99"), Decimal("10.00")]
    assert sum(amounts) == line.total
    assert order.financial_status == FinancialStatus.partially_refunded
    with pytest.raises(Conflict, match="only 0 of 3"):
        refunds.request_refund(session, principal=admin, order=order, refund_in=RefundCreate(
            order_id=order.id, lines=[{"line_id": line.id, "quantity": 1}]))
    refunds.request_refund(session, principal=admin, order=order, refund_in=RefundCreate(
        order_id=order.id, shipping=Decimal("4.99")))
    assert order.refunded_total == order.paid_total and order.financial_status == FinancialStatus.refunded


def test_refusals_say_why_and_change_nothing(session: Session) -> None:
    brand = make_brand(session)
    order = make_order(session, brand=brand, shipping="5.00")
    admin = _admin(session)
    line = order.lines[0]
    cases = [
        ({"lines": [{"line_id": line.id, "quantity": 1, "amount": "40.01"}]}, "more than those units cost"),
        ({"shipping": Decimal("5.01")}, "shipping can still be refunded"),
        ({"lines": [{"line_id": 999999, "quantity": 1}]}, "not on order"),
        ({"lines": [{"line_id": line.id, "quantity": 2}]}, "only 1 of 1"),
        ({}, "at least one line"),
    ]
    for body, message in cases:
        with pytest.raises(AppError, match=message):
            refunds.request_refund(session, principal=admin, order=order, refund_in=RefundCreate(order_id=order.id, **body))
    assert commerce_service.refunds_for_order(session, order_id=order.id) == []
    assert order.refunded_total == 0
    assert session.scalar(select(Event.id).where(Event.verb == "refund.created")) is None


def test_a_partly_paid_order_cannot_be_refunded_beyond_what_was_paid(session: Session) -> None:
    brand = make_brand(session)
    p = make_product(session, brand=brand, price="50.00")
    order = make_order(session, brand=brand, lines=[{"sku": p.sku, "quantity": 2}], shipping="0",
                       paid_total=Decimal("60.00"))
    admin = _admin(session)
    refunds.request_refund(session, principal=admin, order=order, refund_in=RefundCreate(
        order_id=order.id, lines=[{"line_id": order.lines[0].id, "quantity": 1}]))
    with pytest.raises(Conflict, match=r"more than is left to refund.*\$10.00 of \$60.00"):
        refunds.request_refund(session, principal=admin, order=order, refund_in=RefundCreate(
            order_id=order.id, lines=[{"line_id": order.lines[0].id, "quantity": 1}]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(st.integers(1, 50_000), min_size=1, max_size=4),
    quantities=st.lists(st.integers(1, 5), min_size=4, max_size=4),
    shipping=st.integers(0, 2_000),
    requests=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5), st.integers(0, 2_000)), max_size=12),
)
def test_refunds_never_exceed_what_was_paid(session: Session, prices, quantities, shipping, requests) -> None:  # type: ignore[no-untyped-def]
    """Whatever sequence of line and shipping refunds is asked for, the accepted ones never add up
    to more than was paid, per line, for shipping and in total; refunding everything hits it exactly."""
    brand = make_brand(session)
    admin = _admin(session)
    skus = [make_product(session, brand=brand, price=str(Decimal(c) / 100)).sku for c in prices]
    order = make_order(session, brand=brand, shipping=str(Decimal(shipping) / 100),
                       lines=[{"sku": s, "quantity": q} for s, q in zip(skus, quantities, strict=False)])
    for index, qty, ship_cents in requests:
        line = order.lines[index % len(order.lines)]
        with contextlib.suppress(AppError):
            refunds.request_refund(session, principal=admin, order=order, refund_in=RefundCreate(
                order_id=order.id, lines=[{"line_id": line.id, "quantity": qty}], shipping=Decimal(ship_cents) / 100))
        taken = refunds.taken(session, order=order)
        assert taken.total <= order.paid_total
        assert taken.shipping <= order.shipping_total
        for li in order.lines:
            assert taken.lines.get(li.id, (0, 0))[1] <= li.total
    # Refund whatever is left: the order then adds up exactly.
    left = refunds.refundable_lines(session, order=order)
    rest = [{"line_id": lid, "quantity": q} for lid, (q, _) in left.items() if q > 0]
    ship_left = order.shipping_total - refunds.taken(session, order=order).shipping
    if rest or ship_left:
        refunds.request_refund(session, principal=admin, order=order,
                               refund_in=RefundCreate(order_id=order.id, lines=rest, shipping=ship_left))
    assert refunds.taken(session, order=order).total == order.paid_total == order.refunded_total


def test_above_the_agent_limit_a_refund_waits_for_a_supervisor(session: Session) -> None:
    brand = make_brand(session)
    conversation = make_conversation(session, brand=brand)
    p = make_product(session, brand=brand, price="150.00")
    order = make_order(session, brand=brand, lines=[{"sku": p.sku, "quantity": 1}], shipping="0",
                       customer_id=conversation.customer_id)
    agent = principal(make_user(session, role=Role.agent, name="Alex Agent"))
    supervisor = principal(make_user(session, role=Role.supervisor, name="Sam Super"))
    body = RefundCreate(order_id=order.id, lines=[{"line_id": order.lines[0].id, "quantity": 1}],
                        conversation_id=conversation.id)
    refund = refunds.request_refund(session, principal=agent, order=order, refund_in=body)
    assert refund.status == RefundStatus.awaiting_approval
    assert order.refunded_total == 0 and order.financial_status == FinancialStatus.paid
    # The held amount cannot be requested a second time meanwhile.
    with pytest.raises(Conflict):
        refunds.request_refund(session, principal=supervisor, order=order, refund_in=body)
    assert [r.id for r in refunds.awaiting_approval(session)] == [refund.id]
    with pytest.raises(Forbidden):
        refunds.decide(session, principal=agent, refund=refund, approve=True)
    refunds.decide(session, principal=supervisor, refund=refund, approve=True, note="Loyal customer")
    assert refund.status == RefundStatus.succeeded and refund.decided_by_id == supervisor.user_id
    assert order.financial_status == FinancialStatus.refunded
    with pytest.raises(Conflict, match="nothing to decide"):
        refunds.decide(session, principal=supervisor, refund=refund, approve=False)
    notes = [m.body_text for m in conversations_service.list_messages(session, conversation_id=conversation.id)
             if m.author_type == "system"]
    assert "above their limit of $100.00 and awaits a supervisor" in notes[0]
    assert notes[1] == f"Sam Super approved the refund of $150.00 on order {order.number} — Loyal customer."
    verbs = session.scalars(select(Event.verb).where(Event.subject_type == "order", Event.subject_id == order.id)
                            .order_by(Event.id)).all()
    assert verbs[-2:] == ["refund.approval_requested", "refund.approved"]


def test_a_declined_refund_releases_the_amount_and_limits_are_per_role(session: Session) -> None:
    brand = make_brand(session)
    order = make_order(session, brand=brand)  # 40 + 3 × 12.50 + 5 = 82.50
    agent = principal(make_user(session, role=Role.agent))
    supervisor = principal(make_user(session, role=Role.supervisor))
    refunds.set_limit(session, actor=SYSTEM, role="agent", amount=Decimal("20"))
    body = RefundCreate(order_id=order.id, lines=[{"line_id": order.lines[0].id, "quantity": 1}])
    refund = refunds.request_refund(session, principal=agent, order=order, refund_in=body)
    assert refund.status == RefundStatus.awaiting_approval
    refunds.decide(session, principal=supervisor, refund=refund, approve=False)
    assert refund.status == RefundStatus.declined
    small = refunds.request_refund(session, principal=agent, order=order, refund_in=RefundCreate(
        order_id=order.id, lines=[{"line_id": order.lines[1].id, "quantity": 1}]))
    assert small.status == RefundStatus.succeeded and small.amount == Decimal("12.50")
    refunds.set_limit(session, actor=SYSTEM, role="agent", amount=None)
    assert refunds.request_refund(session, principal=agent, order=order, refund_in=body).status == RefundStatus.succeeded
