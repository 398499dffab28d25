"""The store in the agent app: the side panel, order actions from it, the approval queue, the customer page."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy.orm import Session

from cartdesk.auth.models import User
from cartdesk.commerce import returns
from cartdesk.commerce import service as commerce_service
from cartdesk.commerce.models import RefundStatus
from cartdesk.conversations import service as conversations_service
from tests.factories.commerce import make_order, make_product, ship
from tests.factories.conversations import make_conversation
from tests.web.conftest import PAGE, hx, login


def _setup(session: Session, brand, price: str = "150.00"):  # type: ignore[no-untyped-def]
    conversation = make_conversation(session, brand=brand, name="Olivia Brooks")
    coat = make_product(session, brand=brand, title="Wool coat", price=price)
    order = make_order(session, brand=brand, customer_id=conversation.customer_id, number="NW-1042",
                       lines=[{"sku": coat.sku, "quantity": 1}], shipping="0")
    return conversation, order


def test_the_side_panel_shows_orders_tracking_and_lifetime_value(client, agent: User, brand, session: Session) -> None:
    conversation, order = _setup(session, brand)
    ship(session, order=order, delivered_days_ago=1)
    login(client, agent)
    text = client.get(f"/conversations/{conversation.id}", headers=PAGE).text
    assert 'id="store-panel"' in text and "#NW-1042" in text and "Wool coat" in text
    assert "$150.00" in text and "lifetime value" in text
    assert "Royal Mail" in text and "Picked up · Leeds" in text and "Delivered · London" in text
    # Delivered: a return is offered; shipped: cancel and address change are not.
    assert 'data-action="return"' in text and "/cancel" not in text and 'data-action="address"' not in text
    customer_page = client.get(f"/customers/{conversation.customer_id}", headers=PAGE).text
    assert "#NW-1042" in customer_page and "lifetime value" in customer_page


def test_an_agent_refund_above_the_limit_goes_to_a_supervisor(client, agent: User, supervisor: User, brand,
                                                               session: Session) -> None:
    conversation, order = _setup(session, brand)
    token = login(client, agent)
    line = order.lines[0]
    response = client.post(f"/conversations/{conversation.id}/orders/{order.id}/refund", headers=hx(token),
                           data={f"qty_{line.id}": "1", "reason": "Moth holes"})
    assert response.status_code == 200
    assert "Refund of $150.00 sent to a supervisor for approval." in response.text
    assert "awaits a supervisor" in response.text  # the system line in the thread, swapped in
    assert "<strong>Maria Lopez</strong> asked a supervisor to approve <strong>$150.00</strong> on order " \
           "<strong>NW-1042</strong>" in response.text  # and a line in the activity history
    (refund,) = commerce_service.refunds_for_order(session, order_id=order.id)
    assert refund.status == RefundStatus.awaiting_approval
    # Agents see no approval queue link; supervisors do and decide there.
    assert 'href="/approvals"' not in client.get("/", headers=PAGE).text
    client.post("/logout", headers=PAGE, data={"csrf_token": token})
    token = login(client, supervisor)
    queue = client.get("/approvals", headers=PAGE).text
    assert 'data-approvals="1"' in client.get("/", headers=PAGE).text  # the badge on the supervisor's rail
    assert "$150.00" in queue and "#NW-1042" in queue and "Moth holes" in queue
    response = client.post(f"/approvals/{refund.id}", headers=PAGE, follow_redirects=False,
                           data={"csrf_token": token, "decision": "approve", "note": "Long-time customer"})
    assert response.status_code == 303
    assert "Refund approved: $150.00 on order NW-1042." in client.get("/approvals", headers=PAGE).text
    session.refresh(refund)
    assert refund.status == RefundStatus.succeeded
    lines = [m.body_text for m in conversations_service.list_messages(session, conversation_id=conversation.id)]
    assert lines[-1] == "Sam Supervisor approved the refund of $150.00 on order NW-1042 — Long-time customer."


def test_refused_actions_show_the_reason_inline_and_change_nothing(client, agent: User, brand, session: Session) -> None:
    conversation, order = _setup(session, brand, price="30.00")
    token = login(client, agent)
    line = order.lines[0]
    response = client.post(f"/conversations/{conversation.id}/orders/{order.id}/refund", headers=hx(token),
                           data={f"qty_{line.id}": "2"})
    assert response.status_code == 409 and "only 1 of 1 can still be refunded" in response.text
    ship(session, order=order)
    response = client.post(f"/conversations/{conversation.id}/orders/{order.id}/cancel", headers=hx(token), data={})
    assert response.status_code == 409 and "already shipped, so it is too late to cancel it" in response.text
    # Another customer's order cannot be acted on from this conversation.
    other = make_order(session, brand=brand)
    response = client.post(f"/conversations/{conversation.id}/orders/{other.id}/refund", headers=hx(token),
                           data={f"qty_{other.lines[0].id}": "1"})
    assert response.status_code == 403
    assert commerce_service.refunds_for_order(session, order_id=order.id) == []
    assert commerce_service.refunds_for_order(session, order_id=other.id) == []


def test_cancel_address_and_return_from_the_panel(client, agent: User, brand, session: Session) -> None:
    conversation, order = _setup(session, brand, price="30.00")
    token = login(client, agent)
    response = client.post(f"/conversations/{conversation.id}/orders/{order.id}/address", headers=hx(token), data={
        "name": "Olivia Brooks", "line1": "2 New Road", "city": "Bristol", "postal_code": "BS1 1AA", "country": "GB"})
    assert "Shipping address of order NW-1042 changed." in response.text
    assert "changed the shipping address of order NW-1042 to Olivia Brooks, 2 New Road, BS1 1AA Bristol, GB" in response.text
    second = make_order(session, brand=brand, customer_id=conversation.customer_id, number="NW-2000")
    ship(session, order=second, delivered_days_ago=3)
    response = client.post(f"/conversations/{conversation.id}/orders/{second.id}/return", headers=hx(token), data={
        f"ret_{second.lines[1].id}": "2", "reason": "too_small", "condition": "unopened", "resolution": "refund"})
    assert response.status_code == 200 and "Return R" in response.text and "opened." in response.text
    response = client.post(f"/conversations/{conversation.id}/orders/{order.id}/cancel", headers=hx(token),
                           data={"reason": "Changed mind"})
    assert "Order NW-1042 cancelled." in response.text and "refunded $30.00" in response.text


def test_returns_move_on_from_the_panel(client, agent: User, brand, session: Session) -> None:
    conversation, order = _setup(session, brand, price="30.00")
    ship(session, order=order, delivered_days_ago=2)
    token = login(client, agent)
    response = client.post(f"/conversations/{conversation.id}/orders/{order.id}/return", headers=hx(token), data={
        f"ret_{order.lines[0].id}": "1", "reason": "defective", "condition": "used", "resolution": "refund"})
    rma = re.search(r"Return (R[0-9A-F]{8}) opened", response.text).group(1)
    ret = returns.get_by_rma(session, rma=rma)
    assert 'value="received"' in response.text and 'value="rejected"' in response.text
    response = client.post(f"/conversations/{conversation.id}/returns/{ret.id}/status", headers=hx(token),
                           data={"status": "refunded"})
    assert response.status_code == 409 and "cannot become refunded" in response.text
    client.post(f"/conversations/{conversation.id}/returns/{ret.id}/status", headers=hx(token), data={"status": "received"})
    response = client.post(f"/conversations/{conversation.id}/returns/{ret.id}/status", headers=hx(token),
                           data={"status": "refunded"})
    assert f"Return {rma} marked refunded." in response.text and "Maria Lopez refunded $30.00 on order NW-1042" in response.text


def test_a_return_taken_as_store_credit_shows_its_balance_in_the_panel(client, agent: User, brand,
                                                                        session: Session) -> None:
    conversation, order = _setup(session, brand, price="30.00")
    ship(session, order=order, delivered_days_ago=2)
    token = login(client, agent)
    assert "data-store-credit" not in client.get(f"/conversations/{conversation.id}", headers=PAGE).text
    response = client.post(f"/conversations/{conversation.id}/orders/{order.id}/return", headers=hx(token), data={
        f"ret_{order.lines[0].id}": "1", "reason": "changed_mind", "condition": "unopened",
        "resolution": "store_credit"})
    rma = re.search(r"Return (R[0-9A-F]{8}) opened", response.text).group(1)
    ret = returns.get_by_rma(session, rma=rma)
    for status in ("received", "refunded"):
        response = client.post(f"/conversations/{conversation.id}/returns/{ret.id}/status", headers=hx(token),
                               data={"status": status})
    assert "refunded $30.00 on order NW-1042 (1 × Wool coat) to the store credit" in response.text
    assert 'data-credit-balance="USD">$30.00<' in response.text and f"Return {rma}" in response.text
    customer_page = client.get(f"/customers/{conversation.customer_id}", headers=PAGE).text
    assert 'data-credit-balance="USD">$30.00<' in customer_page and "+$30.00" in customer_page


def test_admins_set_refund_limits_per_role(client, session: Session) -> None:
    from cartdesk.auth.models import Role
    from cartdesk.commerce import refunds
    from tests.factories.auth import make_user

    admin = make_user(session, role=Role.admin, name="Ada Admin")
    token = login(client, admin)
    page = client.get("/refund-limits", headers=PAGE).text
    assert 'name="agent" value="100.00"' in page and 'name="supervisor" value=""' in page
    bad = client.post("/refund-limits", headers=PAGE, data={"csrf_token": token, "agent": "lots"})
    assert bad.status_code == 422 and refunds.limit_for(session, role="agent") == Decimal("100.00")
    r = client.post("/refund-limits", headers=PAGE, follow_redirects=False,
                    data={"csrf_token": token, "agent": "250", "supervisor": "1000.00", "admin": ""})
    assert r.status_code == 303, r.text[-3000:]
    assert refunds.limit_for(session, role="agent") == Decimal("250.00")
    assert refunds.limit_for(session, role="supervisor") == Decimal("1000.00")
    assert refunds.limit_for(session, role="admin") is None


def test_agents_cannot_open_refund_limits(client, agent: User) -> None:
    login(client, agent)
    assert client.get("/refund-limits", headers=PAGE).status_code == 403


def test_actions_from_the_customer_page_redirect_with_a_flash(client, agent: User, brand, session: Session) -> None:
    conversation, order = _setup(session, brand, price="30.00")
    token = login(client, agent)
    page = client.get(f"/customers/{conversation.customer_id}", headers=PAGE).text
    assert f'action="/customers/{conversation.customer_id}/orders/{order.id}/refund"' in page
    assert 'hx-post="/customers/' not in page  # plain forms there: the page has no fragment to swap
    r = client.post(f"/customers/{conversation.customer_id}/orders/{order.id}/refund", headers=PAGE,
                    follow_redirects=False, data={"csrf_token": token, f"qty_{order.lines[0].id}": "1"})
    assert r.status_code == 303 and r.headers["location"] == f"/customers/{conversation.customer_id}"
    assert "Refunded $30.00 on order NW-1042." in client.get(r.headers["location"], headers=PAGE).text
    again = client.post(f"/customers/{conversation.customer_id}/orders/{order.id}/refund", headers=PAGE,
                        data={"csrf_token": token, f"qty_{order.lines[0].id}": "1"})
    assert "only 0 of 1 can still be refunded" in again.text
    assert len(commerce_service.refunds_for_order(session, order_id=order.id)) == 1
    other = make_order(session, brand=brand)
    refused = client.post(f"/customers/{conversation.customer_id}/orders/{other.id}/cancel", headers=PAGE,
                          data={"csrf_token": token})
    assert "That order belongs to another customer." in refused.text
    assert client.post(f"/customers/{conversation.customer_id}/orders/{order.id}/explode", headers=PAGE,
                       data={"csrf_token": token}).status_code == 404
