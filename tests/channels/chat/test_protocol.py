"""The widget WebSocket at /widget/ws, through the real app: auth, messages and their
duplicate suppression, resume without gaps, delivery after commit, typing, receipts, limits."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.websockets import WebSocketDisconnect

from cartdesk.auth.models import User
from cartdesk.brands.models import Brand
from cartdesk.channels.chat.models import ChatVisitor
from cartdesk.conversations.models import Conversation, DeliveryStatus, Message
from cartdesk.events.models import Event
from cartdesk.jobs.runner import JobRunner
from tests.channels.chat.conftest import frames_until, until_pong, wait_until_left
from tests.factories.auth import auth_header
from tests.factories.chat import start_visitor
from tests.realtime.conftest import SerialDatabase


def _say(ws: Any, client_id: str, body: str, seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Send a message and return its ack (or error); frames that came first go to ``seen``."""
    ws.send_json({"type": "message", "client_id": client_id, "body": body})
    frames = frames_until(ws, lambda f: f["type"] in ("ack", "error") and f.get("client_id") == client_id)
    if seen is not None:
        seen.extend(frames[:-1])
    return frames[-1]


def _conversation_of(db: SerialDatabase, message_id: int) -> int:
    """Read under the app's lock: while a socket is open, the app's threads share the test's connection."""
    with db.transaction(read_only=True) as session:
        return session.get_one(Message, message_id).conversation_id


def _has_message(frames: list[dict[str, Any]], **match: Any) -> bool:
    return any(f["type"] == "message" and all(f.get(k) == v for k, v in match.items()) for f in frames)


def _reply(client: TestClient, token: str, conversation_id: int, body: str) -> int:
    response = client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"body": body},
                           headers=auth_header(token))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _messages(ws_frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f["author"], f["body"]) for f in ws_frames if f["type"] == "message"]


def test_a_forged_or_missing_token_is_refused_with_a_reason(client: TestClient, brand: Brand) -> None:
    visitor = start_visitor(client, brand.slug)
    forged = visitor["token"][:-2] + ("AA" if not visitor["token"].endswith("AA") else "BB")
    for token in (forged, "", "not-a-token"):
        with client.websocket_connect(f"/widget/ws?token={token}") as ws, pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401 and closed.value.reason == "invalid visitor token"
    response = client.post("/widget/api/session", json={"brand": brand.slug, "token": forged})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_visitor_token"


def test_first_message_opens_a_chat_conversation_and_a_resend_is_stored_once(
    client: TestClient, session: Session, brand: Brand
, serial_db: SerialDatabase) -> None:
    visitor = start_visitor(client, brand.slug, url="https://shop.example/tents/ridge-2")
    with client.websocket_connect(f"/widget/ws?token={visitor['token']}") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["conversation_id"] is None
        frames: list[dict[str, Any]] = []
        ack = _say(ws, "c-1", "Does the Ridge 2 tent fit two adults?", frames)
        again = _say(ws, "c-1", "Does the Ridge 2 tent fit two adults?", frames)
        if not _has_message(frames, client_id="c-1"):
            frames += frames_until(ws, lambda f: f["type"] == "message")
        frames += until_pong(ws)
    wait_until_left(client, serial_db, visitor["token"])
    assert ack["type"] == "ack" and ack["duplicate"] is False
    assert again["duplicate"] is True and (again["id"], again["seq"]) == (ack["id"], ack["seq"])
    message = session.get_one(Message, ack["id"])
    conversation = session.get_one(Conversation, message.conversation_id)
    assert conversation.channel == "chat" and conversation.subject == "Does the Ridge 2 tent fit two adults?"
    assert message.meta == {"page_url": "https://shop.example/tents/ridge-2"}
    assert session.scalar(select(func.count()).select_from(Message)
                          .where(Message.conversation_id == conversation.id)) == 1
    [echo] = [f for f in frames if f["type"] == "message"]
    assert (echo["client_id"], echo["author"], echo["seq"]) == ("c-1", "visitor", ack["seq"])


def test_an_agent_reply_reaches_a_connected_widget_with_its_commit_and_no_job(
    client: TestClient, session: Session, brand: Brand, agent: User, agent_token: str, runner: JobRunner
, serial_db: SerialDatabase) -> None:
    visitor = start_visitor(client, brand.slug)
    with client.websocket_connect(f"/widget/ws?token={visitor['token']}") as ws:
        ws.receive_json()
        seen: list[dict[str, Any]] = []
        ack = _say(ws, "q1", "Is the Ridge 2 in stock?", seen)
        if not _has_message(seen, client_id="q1"):
            frames_until(ws, lambda f: f["type"] == "message")
        conversation_id = _conversation_of(serial_db, ack["id"])
        reply_id = _reply(client, agent_token, conversation_id, "Yes, 14 in stock and ships today.")
        # The visitor is connected: the reply went into their chat log in the request's own
        # transaction, so it reaches the widget with that commit and no delivery job is left.
        frames = frames_until(ws, lambda f: f["type"] == "message")
        assert runner.run_pending() == 0
    wait_until_left(client, serial_db, visitor["token"])
    [reply] = [f for f in frames if f["type"] == "message"]
    assert (reply["id"], reply["author"], reply["name"], reply["via"]) == (reply_id, "agent", "Maria", "chat")
    assert reply["seq"] > ack["seq"]
    session.expire_all()
    assert session.get_one(Message, reply_id).delivery_status == DeliveryStatus.sent
    verbs = session.scalars(select(Event.verb).where(Event.subject_type == "message", Event.subject_id == reply_id)
                            .order_by(Event.id)).all()
    assert verbs == ["message.created", "message.delivery_updated"]


def test_resume_replays_exactly_what_was_missed(
    client: TestClient, session: Session, brand: Brand, agent_token: str, runner: JobRunner
, serial_db: SerialDatabase) -> None:
    visitor = start_visitor(client, brand.slug)
    token = visitor["token"]
    with client.websocket_connect(f"/widget/ws?token={token}") as ws:
        ws.receive_json()
        seen: list[dict[str, Any]] = []
        first = _say(ws, "m1", "Hello?", seen)
        if not _has_message(seen, client_id="m1"):
            frames_until(ws, lambda f: f["type"] == "message")
    conversation_id = _conversation_of(serial_db, first["id"])
    # While the widget is away (a page switch): two replies are delivered.
    for body in ("Hi there!", "How can I help?"):
        _reply(client, agent_token, conversation_id, body)
    assert runner.run_pending() == 0  # the visitor is within its reconnect grace: delivered on commit
    with client.websocket_connect(f"/widget/ws?token={token}&after={first['seq']}") as ws:
        ws.receive_json()
        frames = frames_until(ws, lambda f: f["type"] == "synced" and f["seq"] > first["seq"])
        second = _say(ws, "m2", "Does it come in green?", frames)
        if not _has_message(frames, client_id="m2"):
            frames += frames_until(ws, lambda f: f["type"] == "message" and f.get("client_id") == "m2")
    assert _messages(frames) == [("agent", "Hi there!"), ("agent", "How can I help?"),
                                 ("visitor", "Does it come in green?")]
    seqs = [f["seq"] for f in frames if f["type"] == "message"]
    assert seqs == sorted(set(seqs)) and seqs[-1] == second["seq"]
    # From the start, the whole chat once, in order.
    with client.websocket_connect(f"/widget/ws?token={token}&after=0") as ws:
        ws.receive_json()
        frames = frames_until(ws, lambda f: f["type"] == "synced" and f["seq"] == second["seq"])
    assert [b for _, b in _messages(frames)] == ["Hello?", "Hi there!", "How can I help?", "Does it come in green?"]


def test_typing_travels_both_ways(
    client: TestClient, session: Session, brand: Brand, agent: User, agent_token: str
, serial_db: SerialDatabase) -> None:
    visitor = start_visitor(client, brand.slug)
    with client.websocket_connect(f"/widget/ws?token={visitor['token']}") as ws:
        ws.receive_json()
        ack = _say(ws, "t1", "Hi")
        conversation_id = _conversation_of(serial_db, ack["id"])
        with client.websocket_connect("/realtime/ws", headers=auth_header(agent_token)) as agent_ws:
            ws.send_json({"type": "typing", "typing": True})
            seen = frames_until(agent_ws, lambda f: f["type"] == "presence" and any(
                v["typing"] and v["user_id"] < 0 for v in f["viewers"]))
            assert seen[-1]["conversation_id"] == conversation_id
            agent_ws.send_json({"type": "typing", "conversation_id": conversation_id, "typing": True})
            frame = frames_until(ws, lambda f: f["type"] == "typing")[-1]
            assert frame == {"type": "typing", "typing": True, "name": "Maria"}
            agent_ws.send_json({"type": "typing", "conversation_id": conversation_id, "typing": False})
            assert frames_until(ws, lambda f: f["type"] == "typing")[-1]["typing"] is False


def test_read_receipts_both_ways(
    client: TestClient, session: Session, brand: Brand, agent_token: str, runner: JobRunner
, serial_db: SerialDatabase) -> None:
    visitor = start_visitor(client, brand.slug)
    with client.websocket_connect(f"/widget/ws?token={visitor['token']}") as ws:
        ws.receive_json()
        ack = _say(ws, "r1", "Hi")
        conversation_id = _conversation_of(serial_db, ack["id"])
        _reply(client, agent_token, conversation_id, "Hello!")
        runner.run_pending()
        reply = frames_until(ws, lambda f: f["type"] == "message" and f["author"] == "agent")[-1]
        ws.send_json({"type": "read", "seq": reply["seq"]})
        until_pong(ws)
        response = client.post(f"/api/v1/chat/conversations/{conversation_id}/read", headers=auth_header(agent_token))
        assert response.status_code == 200, response.text
        receipt = frames_until(ws, lambda f: f["type"] == "read")[-1]
    wait_until_left(client, serial_db, visitor["token"])
    assert receipt == {"type": "read", "by": "agent", "seq": reply["seq"]}
    session.expire_all()
    row = session.scalar(select(ChatVisitor).where(ChatVisitor.conversation_id == conversation_id))
    assert (row.visitor_read_seq, row.agent_read_seq) == (reply["seq"], reply["seq"])


def test_oversized_and_malformed_frames_and_floods(client: TestClient, session: Session, brand: Brand, serial_db: SerialDatabase) -> None:
    visitor = start_visitor(client, brand.slug)
    token = visitor["token"]
    with client.websocket_connect(f"/widget/ws?token={token}") as ws:
        ws.receive_json()
        ws.send_text("{not json")
        [error] = [f for f in until_pong(ws) if f["type"] == "error"]
        assert error["code"] == "bad_frame"
        ws.send_json({"type": "message", "client_id": "x", "body": "y" * 6000})
        error = frames_until(ws, lambda f: f["type"] == "error")[-1]
        assert error["code"] == "validation_error" and error["client_id"] == "x"
        # A flood: the burst is accepted, the rest refused with a reason; nothing is stored twice.
        for n in range(15):
            ws.send_json({"type": "message", "client_id": f"f{n}", "body": f"spam {n}"})
        answers = frames_until(ws, lambda f: f.get("client_id") == "f14" and f["type"] in ("ack", "error"))
        acked = [f["client_id"] for f in answers if f["type"] == "ack"]
        limited = [f["client_id"] for f in answers if f["type"] == "error" and f["code"] == "rate_limited"]
        assert 9 <= len(acked) <= 11 and len(acked) + len(limited) == 15
        ws.send_text("x" * 20_000)
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json()
        assert closed.value.code == 1009 and "too large" in closed.value.reason
    wait_until_left(client, serial_db, token)
    stored = session.scalar(select(func.count()).select_from(Message).where(Message.body_text.like("spam %")))
    assert stored == len(acked)
    # Other connections are unaffected: the same visitor reconnects and chats.
    with client.websocket_connect(f"/widget/ws?token={token}") as ws:
        ws.receive_json()
        assert _say(ws, "after", "still here")["type"] == "ack"


def test_a_visitor_may_hold_only_a_few_sockets(client: TestClient, brand: Brand) -> None:
    token = start_visitor(client, brand.slug)["token"]
    opened = [client.websocket_connect(f"/widget/ws?token={token}") for _ in range(5)]
    sockets = [c.__enter__() for c in opened]
    try:
        for ws in sockets:
            assert ws.receive_json()["type"] == "hello"
        with client.websocket_connect(f"/widget/ws?token={token}") as extra, \
                pytest.raises(WebSocketDisconnect) as closed:
            extra.receive_json()
        assert closed.value.code == 4429
    finally:
        for c in opened:
            c.__exit__(None, None, None)


def test_the_visitors_own_message_comes_back_without_a_second_read(
    client: TestClient, brand: Brand, serial_db: SerialDatabase
) -> None:
    """The post's transaction reads what the socket has not shown yet, so the message.created
    event that follows costs the socket no read of its log (one per visitor message at 500/s)."""
    visitor = start_visitor(client, brand.slug)
    with client.websocket_connect(f"/widget/ws?token={visitor['token']}") as ws:
        assert ws.receive_json()["type"] == "hello"
        frames_until(ws, lambda f: f["type"] == "synced")  # the first sync: one read
        relay = client.app.state.chat_relay  # type: ignore[attr-defined]
        reads: list[int] = []
        original = relay.read_log
        relay.read_log = lambda visitor_id, after: reads.append(after) or original(visitor_id, after)
        frames: list[dict[str, Any]] = []
        for n in range(3):
            frames.append(_say(ws, f"own-{n}", f"Question {n}", frames))
            frames += frames_until(ws, lambda f, n=n: f["type"] == "message" and f["client_id"] == f"own-{n}")
        frames += until_pong(ws)
    wait_until_left(client, serial_db, visitor["token"])
    assert _messages(frames) == [("visitor", "Question 0"), ("visitor", "Question 1"), ("visitor", "Question 2")]
    seqs = [f["seq"] for f in frames if f["type"] == "message"]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert reads == []
