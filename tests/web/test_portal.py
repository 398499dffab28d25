"""The customer portal: lookup (uniform refusals, throttling, signed links), tracking, returns, label, refund."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session

from cartdesk.commerce import portal, returns
from cartdesk.commerce.models import ReturnStatus
from cartdesk.web.portal import routes as portal_routes
from tests.factories.auth import make_user, principal
from tests.factories.commerce import make_order, make_product, ship

SECRET = "test-secret-key-not-for-production"


@pytest.fixture(autouse=True)
def _fresh_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portal_routes, "_throttle", portal_routes.LoginThrottle(max_failures=5, max_failures_per_ip=20))


def _order(session: Session, brand, **kw):  # type: ignore[no-untyped-def]
    boots = make_product(session, brand=brand, title="Granite boots", price="120.00")
    sale = make_product(session, brand=brand, title="Clearance socks", price="5.00", final_sale=True)
    return make_order(session, brand=brand, email="ada@example.org", number="NW-777",
                      lines=[{"sku": boots.sku, "quantity": 1}, {"sku": sale.sku, "quantity": 2}], **kw)


def _link(client, brand) -> str:  # type: ignore[no-untyped-def]
    r = client.post(f"/portal/{brand.slug}/lookup", data={"number": "#NW-777", "email": " Ada@Example.org "},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def test_lookup_refuses_wrong_number_and_wrong_email_the_same_way(client, brand, session: Session) -> None:
    _order(session, brand)
    wrong_email = client.post(f"/portal/{brand.slug}/lookup", data={"number": "NW-777", "email": "eve@example.org"})
    wrong_number = client.post(f"/portal/{brand.slug}/lookup", data={"number": "NW-778", "email": "ada@example.org"})
    assert wrong_email.status_code == wrong_number.status_code == 404
    strip = lambda html: re.sub(r'value="[^"]*"', "", html)  # noqa: E731 (the echoed inputs differ, nothing else)
    assert strip(wrong_email.text) == strip(wrong_number.text)
    assert portal.NOT_FOUND.replace("'", "&#39;") in wrong_email.text
    link = _link(client, brand)
    assert link.startswith(f"/portal/{brand.slug}/o/")


def test_guessing_is_throttled(client, brand, session: Session) -> None:
    _order(session, brand)
    for _ in range(5):
        assert client.post(f"/portal/{brand.slug}/lookup", data={"number": "NW-777", "email": "x@example.org"}).status_code == 404
    r = client.post(f"/portal/{brand.slug}/lookup", data={"number": "NW-777", "email": "ada@example.org"})
    assert r.status_code == 429 and "Too many attempts" in r.text


def test_links_are_signed_expire_and_stay_with_their_brand(client, brand, session: Session) -> None:
    from tests.factories.conversations import make_brand

    order = _order(session, brand)
    token = portal.sign(SECRET, order=order)
    assert client.get(f"/portal/{brand.slug}/o/{token}").status_code == 200
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/portal/{brand.slug}/o/{forged}").status_code == 404
    assert "expired or is not valid" in client.get(f"/portal/{brand.slug}/o/{portal.sign('other-secret', order=order)}").text
    other = make_brand(session)
    assert client.get(f"/portal/{other.slug}/o/{token}").status_code == 404
    assert portal.resolve(session, secret=SECRET, token=token, brand=brand, max_age=-1) is None  # expired


def test_tracking_then_return_then_label_then_refund(client, brand, session: Session) -> None:
    order = _order(session, brand)
    link = _link(client, brand)
    page = client.get(link).text
    assert "Preparing" in page and "Return items" not in page
    ship(session, order=order, delivered_days_ago=4)
    page = client.get(link).text
    assert "Royal Mail" in page and "Picked up" in page and "Delivered" in page and "Return items" in page
    form = client.get(link + "/return").text
    assert "Clearance socks was a final-sale item; final-sale items cannot be returned." in form
    assert "Granite boots can be returned until" in form
    boots, socks = order.lines
    refused = client.post(link + "/return", data={f"pick_{socks.id}": "1"})
    assert refused.status_code == 409 and "final-sale" in refused.text
    nothing = client.post(link + "/return", data={})
    assert nothing.status_code == 422 and "Choose at least one item" in nothing.text
    done = client.post(link + "/return", follow_redirects=False, data={
        f"pick_{boots.id}": "1", f"qty_{boots.id}": "1", f"reason_{boots.id}": "too_small",
        f"condition_{boots.id}": "unopened", "resolution": "refund"})
    assert done.status_code == 303
    rma = done.headers["location"].rsplit("/", 1)[1]
    ret = returns.get_by_rma(session, rma=rma)
    assert ret is not None and ret.requested_via == "portal" and ret.status == ReturnStatus.approved
    page = client.get(done.headers["location"]).text
    assert rma in page and "Print return label" in page and "as soon as we receive the parcel" in page
    pdf = client.get(done.headers["location"] + "/label.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and rma.encode() in pdf.content
    # The warehouse receives it and refunds: the customer sees the money arrive.
    staff = principal(make_user(session))
    returns.transition(session, principal=staff, ret=ret, status=ReturnStatus.received)
    returns.transition(session, principal=staff, ret=ret, status=ReturnStatus.refunded)
    page = client.get(done.headers["location"]).text
    assert "$120.00 · being reviewed" in page  # above the agent's limit of $100
    from cartdesk.auth.models import Role
    from cartdesk.commerce import refunds

    (refund,) = [r for r in refunds.awaiting_approval(session) if r.return_id == ret.id]
    refunds.decide(session, principal=principal(make_user(session, role=Role.supervisor)), refund=refund, approve=True)
    page = client.get(done.headers["location"]).text
    assert "$120.00 · refunded to your payment method" in page
    # Another order's RMA is not reachable through this link.
    assert client.get(link + "/returns/RNOPE1234").status_code == 404


def test_my_conversations_show_replies_and_take_new_ones(client, brand, session: Session) -> None:
    from cartdesk.conversations import service as conversations_service
    from cartdesk.conversations.models import Direction, Status
    from cartdesk.conversations.schemas import MessageCreate
    from tests.factories.conversations import make_conversation

    conversation = make_conversation(session, brand=brand, email="ada@example.org", subject="Boots too small?",
                                     body="Do the boots run small?")
    agent = principal(make_user(session, name="Priya Natarajan"))
    conversations_service.add_message(session, principal=agent, conversation=conversation,
                                      message_in=MessageCreate(body="They run half a size small."))
    conversations_service.add_message(session, principal=agent, conversation=conversation,
                                      message_in=MessageCreate(kind="note", body="Internal: VIP, be generous"))
    other = make_conversation(session, brand=brand, email="someone@example.org", subject="Not Ada's")
    _order(session, brand)
    link = _link(client, brand)
    page = client.get(link).text
    assert "Boots too small?" in page and "Not Ada&#39;s" not in page
    thread = client.get(f"{link}/conversations/{conversation.id}").text
    assert "They run half a size small." in thread and "Priya · " in thread and "Internal: VIP" not in thread
    assert client.get(f"{link}/conversations/{other.id}").status_code == 404
    r = client.post(f"{link}/conversations/{conversation.id}", data={"body": "Thanks! I'll size up."},
                    follow_redirects=False)
    assert r.status_code == 303
    last = conversations_service.list_messages(session, conversation_id=conversation.id)[-1]
    assert (last.body_text, last.direction, last.meta) == ("Thanks! I'll size up.", Direction.inbound, {"via": "portal"})
    session.refresh(conversation)
    assert conversation.status == Status.open  # the customer's reply reopens it for the team


def test_an_unknown_store_is_a_404(client) -> None:
    assert client.get("/portal/no-such-store").status_code == 404
    assert client.post("/portal/no-such-store/lookup", data={"number": "1", "email": "a@b.c"}).status_code == 404


def test_asking_about_an_order_opens_a_conversation_the_customer_can_follow(client, brand, session: Session) -> None:
    from cartdesk.conversations.models import Conversation

    order = _order(session, brand)
    link = _link(client, brand)
    r = client.post(f"{link}/conversations", data={"body": "Can I add gift wrap?"}, follow_redirects=False)
    assert r.status_code == 303
    conversation_id = int(r.headers["location"].split("/conversations/")[1].split("#")[0])
    conversation = session.get(Conversation, conversation_id)
    assert (conversation.subject, conversation.customer_id, conversation.brand_id, conversation.tag_names) == (
        "Question about order NW-777", order.customer_id, brand.id, ["portal"])
    assert "Can I add gift wrap?" in client.get(r.headers["location"]).text
    assert "Question about order NW-777" in client.get(link).text
