"""The WebSocket protocol at /realtime/ws and the SSE fallback, through the real app.

No frame is awaited without a bound: after acting, a test sends a ping and reads
up to the pong, and the server answers a connection's own frames through the
same ordered queue as the hub's, so everything caused before the ping is in
front of the pong.
"""

from __future__ import annotations

import json
from base64 import b64encode
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy.orm import Session
from starlette.middleware.sessions import SessionMiddleware
from starlette.websockets import WebSocketDisconnect

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role, User
from cartdesk.auth.schemas import TeamCreate
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation
from cartdesk.conversations.schemas import ConversationUpdate
from cartdesk.events.schemas import SYSTEM
from tests.factories.auth import auth_header, make_token, make_user, principal
from tests.factories.conversations import make_conversation


def until_pong(ws: Any) -> list[dict[str, Any]]:
    """Every frame the server sent before answering a ping."""
    ws.send_json({"type": "ping"})
    frames = []
    while True:
        frame = ws.receive_json()
        if frame["type"] == "pong":
            return frames
        frames.append(frame)


def events(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f["event"] for f in frames if f["type"] == "event"]


def presence(frames: list[dict[str, Any]], conversation_id: int) -> list[list[tuple[int, bool]]]:
    return [[(v["user_id"], v["typing"]) for v in f["viewers"]]
            for f in frames if f["type"] == "presence" and f["conversation_id"] == conversation_id]


def _session_cookie(app: FastAPI, data: dict[str, Any]) -> str:
    """The cookie SessionMiddleware would set after a login, signed the same way."""
    options = next((m.kwargs for m in app.user_middleware if m.cls is SessionMiddleware), None)
    assert options is not None, "the app should install SessionMiddleware"
    name = options.get("session_cookie", "session")
    value = TimestampSigner(str(options["secret_key"])).sign(b64encode(json.dumps(data).encode())).decode()
    return f"{name}={value}"


def _login_cookie(app: FastAPI, user: User) -> dict[str, str]:
    return {"cookie": _session_cookie(app, {"uid": user.id, "sv": user.session_version})}


@pytest.fixture
def people(session: Session) -> dict[str, Any]:
    admin = make_user(session, role=Role.admin, name="Ada Admin")
    ana = make_user(session, name="Ana Lopez")
    ben = make_user(session, name="Ben Ito")
    agent_scopes = ["conversations:read", "conversations:write", "customers:read", "customers:write"]
    tokens = {u.name: make_token(session, user=u, scopes=None if u is admin else agent_scopes)
              for u in (admin, ana, ben)}
    session.commit()
    return {"admin": admin, "ana": ana, "ben": ben, "tokens": tokens}


def _reply(client: TestClient, token: str, conversation: Conversation, body: str) -> None:
    response = client.post(f"/api/v1/conversations/{conversation.id}/messages",
                           json={"kind": "reply", "body": body}, headers=auth_header(token))
    assert response.status_code == 201, response.text


def test_unauthenticated_connections_are_closed_with_4401(client: TestClient) -> None:
    for url in ("/realtime/ws", "/realtime/ws?token=cd_not-a-real-token"):
        with client.websocket_connect(url) as ws, pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401


def test_stale_session_cookie_is_refused(client: TestClient, app: FastAPI, people: dict[str, Any]) -> None:
    stale = {"cookie": _session_cookie(app, {"uid": people["ana"].id, "sv": people["ana"].session_version + 1})}
    with client.websocket_connect("/realtime/ws", headers=stale) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 4401


def test_agent_receives_events_of_a_reply_posted_through_the_api(
    client: TestClient, session: Session, people: dict[str, Any]
) -> None:
    conversation = make_conversation(session)
    session.commit()
    with client.websocket_connect(f"/realtime/ws?token={people['tokens']['Ana Lopez']}") as ws:
        _reply(client, people["tokens"]["Ada Admin"], conversation, "Your refund is on its way.")
        received = events(until_pong(ws))
    created = [e for e in received if e["verb"] == "message.created"]
    assert len(created) == 1
    assert created[0]["conversation_id"] == conversation.id
    assert created[0]["data"]["preview"] == "Your refund is on its way."
    assert created[0]["actor"] == {"type": "user", "id": people["admin"].id, "name": "Ada Admin"}
    assert "conversation.assigned" in {e["verb"] for e in received}


def test_session_cookie_authenticates_and_cross_site_origins_are_refused(
    client: TestClient, app: FastAPI, session: Session, people: dict[str, Any]
) -> None:
    conversation = make_conversation(session)
    session.commit()
    cookie = _login_cookie(app, people["ana"])
    with client.websocket_connect("/realtime/ws", headers=cookie) as ws:
        ws.send_json({"type": "view", "conversation_id": conversation.id})
        assert presence(until_pong(ws), conversation.id) == [[(people["ana"].id, False)]]

    hostile = {**cookie, "origin": "https://evil.example"}
    with client.websocket_connect("/realtime/ws", headers=hostile) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 4403

    same_site = {**cookie, "origin": "http://testserver"}
    with client.websocket_connect("/realtime/ws", headers=same_site) as ws:
        assert until_pong(ws) == []


def test_agents_get_nothing_from_conversations_they_cannot_see(
    client: TestClient, session: Session, people: dict[str, Any]
) -> None:
    admin = principal(people["admin"])
    billing = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Billing"))
    hidden = make_conversation(session, body="My card number is 4111 1111 1111 1111")
    conversations_service.update(session, principal=admin, conversation=hidden,
                                 update_in=ConversationUpdate(team_id=billing.id))
    visible = make_conversation(session)
    session.commit()
    admin_token = people["tokens"]["Ada Admin"]

    with client.websocket_connect(f"/realtime/ws?token={people['tokens']['Ben Ito']}") as ben, \
            client.websocket_connect(f"/realtime/ws?token={admin_token}") as boss:
        _reply(client, admin_token, hidden, "We refunded the card.")
        _reply(client, admin_token, visible, "Shipped today.")
        ben.send_json({"type": "view", "conversation_id": hidden.id})
        seen_by_ben = until_pong(ben)
        seen_by_boss = until_pong(boss)

    ben_conversations = {e["conversation_id"] for e in events(seen_by_ben)}
    assert ben_conversations == {visible.id}
    assert {"type": "error", "error": f"conversation {hidden.id} does not exist"} in seen_by_ben
    assert {e["conversation_id"] for e in events(seen_by_boss)} == {hidden.id, visible.id}


def test_presence_view_typing_leave_and_disconnect_are_broadcast(
    client: TestClient, session: Session, people: dict[str, Any]
) -> None:
    conversation = make_conversation(session)
    session.commit()
    ana_id, ben_id, cid = people["ana"].id, people["ben"].id, conversation.id

    with client.websocket_connect(f"/realtime/ws?token={people['tokens']['Ben Ito']}") as ben:
        with client.websocket_connect(f"/realtime/ws?token={people['tokens']['Ana Lopez']}") as ana:
            ana.send_json({"type": "view", "conversation_id": cid})
            assert presence(until_pong(ana), cid) == [[(ana_id, False)]]
            assert presence(until_pong(ben), cid) == [[(ana_id, False)]]

            ben.send_json({"type": "view", "conversation_id": cid})
            ben.send_json({"type": "typing", "conversation_id": cid, "typing": True})
            assert presence(until_pong(ben), cid) == [[(ana_id, False), (ben_id, False)],
                                                      [(ana_id, False), (ben_id, True)]]
            ben.send_json({"type": "typing", "conversation_id": cid, "typing": False})
            ben.send_json({"type": "leave", "conversation_id": cid})
            until_pong(ben)
            assert presence(until_pong(ana), cid) == [
                [(ana_id, False), (ben_id, False)], [(ana_id, False), (ben_id, True)],
                [(ana_id, False), (ben_id, False)], [(ana_id, False)],
            ]

            ana.send_json({"type": "view", "conversation_id": cid})  # already viewing: answered, not broadcast
            assert presence(until_pong(ana), cid) == [[(ana_id, False)]]
            assert presence(until_pong(ben), cid) == []
        # Ana's tab closed without a goodbye.
        assert presence(until_pong(ben), cid) == [[]]


def test_a_new_connection_first_receives_who_views_what_it_may_see(
    client: TestClient, session: Session, people: dict[str, Any]
) -> None:
    admin = principal(people["admin"])
    billing = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Billing"))
    hidden = make_conversation(session)
    conversations_service.update(session, principal=admin, conversation=hidden,
                                 update_in=ConversationUpdate(team_id=billing.id))
    visible = make_conversation(session)
    session.commit()
    tokens, ana_id = people["tokens"], people["ana"].id

    with client.websocket_connect(f"/realtime/ws?token={tokens['Ana Lopez']}") as ana, \
            client.websocket_connect(f"/realtime/ws?token={tokens['Ada Admin']}") as boss:
        ana.send_json({"type": "view", "conversation_id": visible.id})
        until_pong(ana)
        boss.send_json({"type": "view", "conversation_id": hidden.id})
        until_pong(boss)

        with client.websocket_connect(f"/realtime/ws?token={tokens['Ben Ito']}") as ben:
            frames = until_pong(ben)  # Ben has asked for nothing but a pong
        first = {"type": "presence", "conversation_id": visible.id,
                 "viewers": [{"user_id": ana_id, "name": "Ana Lopez", "initials": people["ana"].initials,
                              "typing": False}]}
        assert frames == [first]  # and nothing about the conversation he may not see

        with client.websocket_connect(f"/realtime/ws?token={tokens['Ada Admin']}") as other_tab:
            frames = until_pong(other_tab)
        assert presence(frames, visible.id) == [[(ana_id, False)]]
        assert presence(frames, hidden.id) == [[(people["admin"].id, False)]]

        with client.stream("GET", "/realtime/events", headers=auth_header(tokens["Ben Ito"])) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 3000"
            assert next(lines) == ""
            assert json.loads(next(lines).removeprefix("data: ")) == first


def test_bad_frames_get_an_error_and_the_connection_stays_open(
    client: TestClient, people: dict[str, Any]
) -> None:
    with client.websocket_connect(f"/realtime/ws?token={people['tokens']['Ana Lopez']}") as ws:
        ws.send_text("not json")
        ws.send_json({"type": "dance"})
        ws.send_json({"type": "view", "conversation_id": "12"})
        ws.send_json({"type": "typing", "conversation_id": 1, "typing": "yes"})
        errors = [f["error"] for f in until_pong(ws) if f["type"] == "error"]
    assert errors == [
        "frames must be JSON",
        "unknown frame type 'dance'",
        "conversation_id must be a positive integer",
        "conversation 1 does not exist",
    ]


def test_sse_requires_authentication(client: TestClient) -> None:
    response = client.get("/realtime/events")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_sse_streams_the_same_event_frames(client: TestClient, session: Session, people: dict[str, Any]) -> None:
    conversation = make_conversation(session)
    session.commit()
    token = people["tokens"]["Ana Lopez"]
    with client.stream("GET", "/realtime/events", headers=auth_header(token)) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "retry: 3000"
        _reply(client, people["tokens"]["Ada Admin"], conversation, "Hello over SSE")
        frame = None
        for line in lines:
            if line.startswith("data: "):
                candidate = json.loads(line.removeprefix("data: "))
                if candidate["event"]["verb"] == "message.created":
                    frame = candidate
                    break
    assert frame is not None
    assert frame["type"] == "event" and frame["event"]["data"]["preview"] == "Hello over SSE"
