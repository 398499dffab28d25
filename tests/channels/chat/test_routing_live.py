"""Chat routing through the real app: a chat written in the widget lands on an agent whose
agent app is open, who hears of it over the realtime socket; a queued chat is handed out
as soon as a seat frees or an agent sets themselves online through the API."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Availability, Role, User
from cartdesk.brands.models import Brand
from cartdesk.conversations.models import Conversation, Message
from cartdesk.events.models import Event
from tests.channels.chat.conftest import frames_until, wait_until_left
from tests.factories.auth import auth_header, make_token, make_user
from tests.factories.chat import start_visitor
from tests.realtime.conftest import SerialDatabase
from tests.realtime.test_routes import _login_cookie


def _write(client: TestClient, db: SerialDatabase, brand: Brand, body: str) -> int:
    """A new visitor writes one message in the widget; returns the conversation id."""
    visitor = start_visitor(client, brand.slug)
    with client.websocket_connect(f"/widget/ws?token={visitor['token']}") as ws:
        ws.receive_json()
        ws.send_json({"type": "message", "client_id": "m1", "body": body})
        [*_, ack] = frames_until(ws, lambda f: f["type"] in ("ack", "error"))
        assert ack["type"] == "ack", ack
    wait_until_left(client, db, visitor["token"])
    with db.transaction(read_only=True) as read:
        return read.get_one(Message, ack["id"]).conversation_id


def _assignee(db: SerialDatabase, conversation_id: int) -> int | None:
    with db.transaction(read_only=True) as read:
        return read.get_one(Conversation, conversation_id).assignee_id


def _wait_assignee(db: SerialDatabase, conversation_id: int, expected: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _assignee(db, conversation_id) == expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"conversation {conversation_id} is assigned to {_assignee(db, conversation_id)}")


def _queued_reasons(db: SerialDatabase, conversation_id: int) -> list[str]:
    with db.transaction(read_only=True) as read:
        return [e.data["reason"] for e in read.scalars(
            select(Event).where(Event.conversation_id == conversation_id, Event.verb == "chat.queued"))]


def test_a_widget_chat_is_routed_to_the_agent_with_the_app_open_who_hears_it_live(
    client: TestClient, session: Session, serial_db: SerialDatabase, brand: Brand
) -> None:
    maria = make_user(session, role=Role.agent, name="Maria Lopez")
    maria.availability = Availability.online
    session.commit()
    cookie = {**_login_cookie(client.app, maria), "origin": "http://testserver"}  # type: ignore[arg-type]
    with client.websocket_connect("/realtime/ws", headers=cookie) as agent_ws:
        agent_ws.send_json({"type": "ping"})
        while agent_ws.receive_json()["type"] != "pong":  # connected: the app counts her as online
            pass
        conversation_id = _write(client, serial_db, brand, "Do you ship to Canada?")
        frames: list[dict[str, Any]] = frames_until(
            agent_ws, lambda f: f["type"] == "event" and f["event"]["verb"] == "chat.routed")
    routed = frames[-1]["event"]
    assert routed["conversation_id"] == conversation_id
    assert routed["data"]["assignee_id"] == maria.id and routed["actor"]["name"] == "Chat routing"
    assert any(f["type"] == "event" and f["event"]["verb"] == "conversation.assigned" for f in frames)
    assert _assignee(serial_db, conversation_id) == maria.id
    assert _queued_reasons(serial_db, conversation_id) == []


def test_a_queued_chat_is_handed_out_when_an_agent_comes_online_or_frees_a_seat(
    client: TestClient, session: Session, serial_db: SerialDatabase, brand: Brand, agent: User, agent_token: str
) -> None:
    headers = auth_header(agent_token)
    response = client.patch(f"/api/v1/brands/{brand.slug}/chat-widget", json={"max_chats_per_agent": 1},
                            headers=headers)
    assert response.status_code == 200 and response.json()["max_chats_per_agent"] == 1
    assert client.patch(f"/api/v1/users/{agent.id}", json={"availability": "away"},
                        headers=headers).status_code == 200

    first = _write(client, serial_db, brand, "Where is my order #1001?")
    assert _assignee(serial_db, first) is None and _queued_reasons(serial_db, first) == ["nobody_online"]
    # She sets herself online through the API: the waiting chat is hers at once.
    assert client.patch(f"/api/v1/users/{agent.id}", json={"availability": "online"},
                        headers=headers).status_code == 200
    _wait_assignee(serial_db, first, agent.id)

    second = _write(client, serial_db, brand, "Can I change my shipping address?")
    assert _assignee(serial_db, second) is None and _queued_reasons(serial_db, second) == ["all_at_capacity"]
    # Solving the first chat frees her only seat: the second follows.
    response = client.patch(f"/api/v1/conversations/{first}", json={"status": "solved"}, headers=headers)
    assert response.status_code == 200, response.text
    _wait_assignee(serial_db, second, agent.id)
    # Raising the capacity hands out the next waiting chat too.
    third = _write(client, serial_db, brand, "Do you have gift cards?")
    assert _assignee(serial_db, third) is None
    assert client.patch(f"/api/v1/brands/{brand.slug}/chat-widget", json={"max_chats_per_agent": 2},
                        headers=headers).status_code == 200
    _wait_assignee(serial_db, third, agent.id)


def test_an_api_token_user_is_never_routed_chats(
    client: TestClient, session: Session, serial_db: SerialDatabase, brand: Brand
) -> None:
    bot = make_user(session, role=Role.agent, name="Integration")
    bot.availability = Availability.online
    token = make_token(session, user=bot, scopes=["conversations:read"])
    session.commit()
    with client.websocket_connect(f"/realtime/ws?token={token}") as ws:
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"
        conversation_id = _write(client, serial_db, brand, "Hello?")
    assert _assignee(serial_db, conversation_id) is None
    assert _queued_reasons(serial_db, conversation_id) == ["nobody_online"]
