from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.commerce import actions
from cartdesk.commerce.models import FinancialStatus, Order, OrderStatus, StockLevel
from cartdesk.commerce.schemas import Address
from cartdesk.conversations import service as conversations_service
from cartdesk.events.models import Event
from cartdesk.kit.errors import Conflict
from tests.factories.auth import make_user, principal
from tests.factories.commerce import make_order, make_product, ship
from tests.factories.conversations import make_brand, make_conversation

NEW_ADDRESS = Address(name="Ada L.", line1="1 Infinite Loop", city="Cupertino", postal_code="95014", country="US")


def _system_lines(session: Session, conversation_id: int) -> list[str]:
    return [m.body_text for m in conversations_service.list_messages(session, conversation_id=conversation_id)
            if m.author_type == "system"]


def test_cancel_an_unshipped_order_refunds_it_all_and_restocks(session: Session) -> None:
    brand = make_brand(session)
    conversation = make_conversation(session, brand=brand)
    lamp = make_product(session, brand=brand, title="Lamp", price="60.00", stock=3)
    order = make_order(session, brand=brand, lines=[{"sku": lamp.sku, "quantity": 2}], customer_id=conversation.customer_id)
    agent = principal(make_user(session, role=Role.agent, name="Alex"))
    actions.cancel_order(session, principal=agent, order=order, reason="Ordered twice", conversation_id=conversation.id)
    assert order.status == OrderStatus.cancelled
    assert order.refunded_total == order.paid_total == Decimal("125.00")
    assert order.financial_status == FinancialStatus.refunded
    assert session.get(StockLevel, (lamp.id, "main")).quantity == 3
    assert _system_lines(session, conversation.id) == [
        f"Alex cancelled order {order.number} and refunded $125.00 — Ordered twice."]
    with pytest.raises(Conflict, match="already cancelled"):
        actions.cancel_order(session, principal=agent, order=order)


def test_shipped_orders_cannot_be_cancelled_or_readdressed(session: Session) -> None:
    brand = make_brand(session)
    order = make_order(session, brand=brand)
    agent = principal(make_user(session))
    actions.change_address(session, principal=agent, order=order, address=NEW_ADDRESS)
    assert order.shipping_address["city"] == "Cupertino"
    ship(session, order=order)
    before = dict(order.shipping_address)
    with pytest.raises(Conflict, match="already shipped, so it is too late to change its address"):
        actions.change_address(session, principal=agent, order=order,
                               address=NEW_ADDRESS.model_copy(update={"city": "Paris"}))
    with pytest.raises(Conflict, match="too late to cancel"):
        actions.cancel_order(session, principal=agent, order=order)
    assert order.shipping_address == before and order.status == OrderStatus.open
    verbs = session.scalars(select(Event.verb).where(Event.subject_type == "order", Event.subject_id == order.id)).all()
    assert verbs.count("order.address_changed") == 1 and "order.cancelled" not in verbs


def test_reship_makes_a_free_replacement_order(session: Session) -> None:
    brand = make_brand(session)
    conversation = make_conversation(session, brand=brand)
    order = make_order(session, brand=brand, customer_id=conversation.customer_id)
    agent = principal(make_user(session, name="Robin"))
    with pytest.raises(Conflict, match="has not shipped yet"):
        actions.reship(session, principal=agent, order=order)
    ship(session, order=order)
    replacement = actions.reship(session, principal=agent, order=order, line_ids=[order.lines[1].id],
                                 reason="Lost in transit", conversation_id=conversation.id)
    assert replacement.number == f"{order.number}-R1" and replacement.replacement_of_id == order.id
    assert replacement.total == 0 and [li.quantity for li in replacement.lines] == [3]
    assert session.scalar(select(Order).where(Order.number == f"{order.number}-R1")) is replacement
    assert _system_lines(session, conversation.id)[-1].startswith(f"Robin reshipped order {order.number} as replacement")
