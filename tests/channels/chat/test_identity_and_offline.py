"""Visitor identity (anonymous → email → one customer; verified HMAC identity), the offline
path (a reply to a visitor who left goes out by email, through the registry), the
transcript, uploads and the cross-origin API."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.channels import registry
from cartdesk.channels.base import FakeAdapter
from cartdesk.channels.chat.identity import identity_hash
from cartdesk.channels.chat.models import ChatLogEntry, ChatVisitor
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation, DeliveryStatus, Message
from cartdesk.conversations.schemas import ConversationCreate
from cartdesk.customers.models import CustomerIdentity
from cartdesk.events.schemas import SYSTEM
from cartdesk.jobs.runner import JobRunner
from cartdesk.kit.clock import utcnow
from tests.channels.chat.conftest import frames_until, wait_until_left
from tests.factories.auth import auth_header
from tests.factories.chat import bearer, start_visitor
from tests.realtime.conftest import SerialDatabase

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def email_channel() -> Iterator[FakeAdapter]:
    """Stands in for the email adapter (SMTP, or the dev outbox) in the registry."""
    previous = registry.get("email")
    adapter = registry.register(FakeAdapter("email"), replace=True)
    yield adapter
    registry.unregister("email")
    if previous is not None:
        registry.register(previous)


def _chat(client: TestClient, token: str, client_id: str, body: str) -> dict[str, Any]:
    with client.websocket_connect(f"/widget/ws?token={token}") as ws:
        ws.receive_json()
        ws.send_json({"type": "message", "client_id": client_id, "body": body})
        answer = frames_until(ws, lambda f: f["type"] in ("ack", "error"))[-1]
    wait_until_left(client, client.app.state.db, token)  # type: ignore[attr-defined]
    return answer


def _visitor(session: Session, token_visitor: dict[str, Any]) -> ChatVisitor:
    session.expire_all()
    return session.scalars(select(ChatVisitor).order_by(ChatVisitor.id.desc())).first()  # type: ignore[return-value]


def test_an_email_links_chat_and_email_history_to_one_customer(
    client: TestClient, session: Session, brand: Brand
) -> None:
    # The customer wrote by email last month.
    earlier = conversations_service.create(session, actor=SYSTEM, conversation_in=ConversationCreate(
        customer={"email": "hannah@example.org", "name": "Hannah Kim"}, subject="Order LL-50828",
        message={"body": "Where is my order?"}, channel="email", brand=brand.id))
    session.commit()
    visitor = start_visitor(client, brand.slug)
    ack = _chat(client, visitor["token"], "a1", "Hi, it's me again")  # anonymous at first
    response = client.post("/widget/api/identify", json={"email": "Hannah@Example.org", "name": "Hannah"},
                           headers=bearer(visitor["token"]))
    assert response.status_code == 200, response.text
    session.expire_all()
    chat = session.get_one(Conversation, session.get_one(Message, ack["id"]).conversation_id)
    assert chat.customer_id == earlier.customer_id  # one history
    assert response.json()["visitor"]["email"] == "hannah@example.org"
    assert response.json()["visitor"]["verified"] is False


def test_a_verified_identity_lands_on_the_stores_customer(
    client: TestClient, session: Session, brand: Brand, agent_token: str
) -> None:
    secret = client.get("/api/v1/brands/northwind/chat-widget", headers=auth_header(agent_token)).json()[
        "identity_secret"]
    user = {"id": "shop-42", "email": "lena@example.org", "name": "Lena Vogel",
            "hash": identity_hash(secret, "shop-42")}
    visitor = start_visitor(client, brand.slug, user=user)
    assert visitor["visitor"]["verified"] is True and visitor["visitor"]["email"] == "lena@example.org"
    identity = session.scalar(select(CustomerIdentity).where(CustomerIdentity.value == "northwind:shop-42"))
    assert identity is not None
    again = start_visitor(client, brand.slug, user=user)  # another browser, same shopper
    session.expire_all()
    rows = session.scalars(select(ChatVisitor).where(ChatVisitor.verified.is_(True))).all()
    assert {r.customer_id for r in rows} == {identity.customer_id} and again["token"] != visitor["token"]
    forged = client.post("/widget/api/session", json={"brand": brand.slug, "user": {**user, "hash": "0" * 64}})
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_identity_hash"


def _left_long_ago(db: SerialDatabase, message_id: int) -> int:
    """Wait until the server has seen the socket close (it marks the visitor away, after a
    short grace), then move that an hour back. Returns the conversation id."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.transaction() as locked:
            conversation_id = locked.get_one(Message, message_id).conversation_id
            row = locked.scalar(select(ChatVisitor).where(ChatVisitor.conversation_id == conversation_id))
            assert row is not None and row.last_seen_at is not None
            if row.last_seen_at < utcnow() - timedelta(seconds=60):
                row.last_seen_at = utcnow() - timedelta(hours=1)
                return conversation_id
        time.sleep(0.05)
    raise AssertionError("the server never noticed the widget leave")


def test_a_reply_to_a_visitor_who_left_goes_out_by_email(
    client: TestClient, session: Session, brand: Brand, agent_token: str, runner: JobRunner,
    email_channel: FakeAdapter, serial_db: SerialDatabase,
) -> None:
    visitor = start_visitor(client, brand.slug)
    client.post("/widget/api/identify", json={"email": "olivia@example.org"}, headers=bearer(visitor["token"]))
    ack = _chat(client, visitor["token"], "o1", "Nobody is online, but: is the zip covered by the warranty?")
    conversation_id = _left_long_ago(serial_db, ack["id"])
    reply = client.post(f"/api/v1/conversations/{conversation_id}/messages",
                        json={"body": "Yes, zips are covered for two years."}, headers=auth_header(agent_token))
    assert runner.run_pending() == 1
    [sent] = email_channel.sent
    assert (sent.message_id, sent.conversation_id) == (reply.json()["id"], conversation_id)
    session.expire_all()
    message = session.get_one(Message, sent.message_id)
    assert message.delivery_status == DeliveryStatus.sent and message.meta["delivered_via"] == "email"
    # Back on the shop later, the answer is in the widget too, marked as emailed.
    with client.websocket_connect(f"/widget/ws?token={visitor['token']}&after={ack['seq']}") as ws:
        ws.receive_json()
        frame = frames_until(ws, lambda f: f["type"] == "message")[-1]
    assert (frame["body"], frame["via"]) == ("Yes, zips are covered for two years.", "email")


def test_a_reply_to_a_connected_visitor_does_not_email(
    client: TestClient, brand: Brand, agent_token: str, runner: JobRunner,
    email_channel: FakeAdapter, serial_db: SerialDatabase,
) -> None:
    visitor = start_visitor(client, brand.slug)
    client.post("/widget/api/identify", json={"email": "pablo@example.org"}, headers=bearer(visitor["token"]))
    with client.websocket_connect(f"/widget/ws?token={visitor['token']}") as ws:
        ws.receive_json()
        ws.send_json({"type": "message", "client_id": "p1", "body": "Promo code?"})
        ack = frames_until(ws, lambda f: f["type"] == "ack")[-1]
        with serial_db.transaction(read_only=True) as locked:  # the app's threads share the connection
            conversation_id = locked.get_one(Message, ack["id"]).conversation_id
        client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"body": "Try WELCOME10."},
                    headers=auth_header(agent_token))
        runner.run_pending()
        frame = frames_until(ws, lambda f: f["type"] == "message" and f["author"] == "agent")[-1]
    assert frame["via"] == "chat" and email_channel.sent == []


def test_the_transcript_is_emailed_through_the_email_channel(
    client: TestClient, session: Session, brand: Brand, runner: JobRunner, email_channel: FakeAdapter
) -> None:
    visitor = start_visitor(client, brand.slug)
    token = visitor["token"]
    assert client.post("/widget/api/transcript", headers=bearer(token)).status_code == 422  # no email yet
    client.post("/widget/api/identify", json={"email": "carlos@example.org", "name": "Carlos"}, headers=bearer(token))
    _chat(client, token, "t1", "Refund for NW-96983?")
    response = client.post("/widget/api/transcript", headers=bearer(token))
    assert response.status_code == 202, response.text
    runner.run_pending()
    [sent] = email_channel.sent
    assert "Your chat with Northwind Outfitters" in sent.body_text and "You: Refund for NW-96983?" in sent.body_text


def test_uploads_are_checked_by_content_and_size(client: TestClient, session: Session, brand: Brand) -> None:
    token = start_visitor(client, brand.slug)["token"]
    ok = client.post("/widget/api/attachments", files={"file": ("photo.png", io.BytesIO(PNG), "image/png")},
                     headers=bearer(token))
    assert ok.status_code == 201, ok.text
    assert ok.json()["content_type"] == "image/png"
    fake = client.post("/widget/api/attachments",
                       files={"file": ("invoice.pdf", io.BytesIO(b"MZ\x90\x00 not a pdf"), "application/pdf")},
                       headers=bearer(token))
    assert fake.status_code == 415 and fake.json()["error"]["code"] == "unsupported_media_type"
    big = client.post("/widget/api/attachments",
                      files={"file": ("big.png", io.BytesIO(PNG + b"\x00" * (11 * 1024 * 1024)), "image/png")},
                      headers=bearer(token))
    assert big.status_code == 413
    other = start_visitor(client, brand.slug)["token"]
    assert client.get(f"/widget/api/attachments/{ok.json()['id']}", headers=bearer(other)).status_code == 404
    with client.websocket_connect(f"/widget/ws?token={token}") as ws:
        ws.receive_json()
        ws.send_json({"type": "message", "client_id": "img", "body": "", "attachment_ids": [ok.json()["id"]]})
        frame = frames_until(ws, lambda f: f["type"] == "message")[-1]
    wait_until_left(client, client.app.state.db, token)  # type: ignore[attr-defined]
    assert [a["filename"] for a in frame["attachments"]] == ["photo.png"]
    got = client.get(f"/widget/api/attachments/{ok.json()['id']}?token={token}")
    assert got.status_code == 200 and got.content == PNG
    assert session.scalar(select(ChatLogEntry).where(ChatLogEntry.message_id == frame["id"])) is not None


def test_the_widget_api_answers_other_origins(client: TestClient, brand: Brand) -> None:
    preflight = client.options("/widget/api/session", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    config = client.get("/widget/api/config?brand=northwind", headers={"Origin": "https://shop.example"})
    assert config.headers["access-control-allow-origin"] == "*"
    assert config.json()["online"] is False and "identity_secret" not in config.json()
    # The agent API is not opened up.
    assert "access-control-allow-origin" not in client.get("/api/v1/conversations").headers


def test_a_name_alone_names_the_chat(client: TestClient, session: Session, brand: Brand) -> None:
    token = start_visitor(client, brand.slug)["token"]
    assert client.post("/widget/api/identify", json={}, headers=bearer(token)).status_code == 422
    assert client.post("/widget/api/identify", json={"name": "Diego"}, headers=bearer(token)).status_code == 200
    ack = _chat(client, token, "n1", "Hello")
    session.expire_all()
    conversation = session.get_one(Conversation, session.get_one(Message, ack["id"]).conversation_id)
    assert conversation.customer.name == "Diego" and conversation.customer.email is None


def test_new_sessions_from_one_address_are_rate_limited(client: TestClient, brand: Brand) -> None:
    tokens = [start_visitor(client, brand.slug)["token"] for _ in range(30)]
    refused = client.post("/widget/api/session", json={"brand": brand.slug})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    # A returning visitor still gets in.
    back = client.post("/widget/api/session", json={"brand": brand.slug, "token": tokens[0]})
    assert back.status_code == 200
