"""Agent availability follows the agent app: "online" counts only while the agent has a
realtime connection open (plus a grace period after the last one closes), so the widget
switches to offline mode by itself when everyone has left."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Availability, Role, User
from cartdesk.brands.models import Brand
from cartdesk.channels.chat import service as chat_service
from cartdesk.channels.chat.models import ChatAgentSeen
from cartdesk.kit.clock import utcnow
from tests.factories.auth import make_token, make_user
from tests.realtime.conftest import SerialDatabase
from tests.realtime.test_routes import _login_cookie


def _seen_at(db: SerialDatabase, user_id: int) -> datetime | None:
    with db.transaction(read_only=True) as locked:
        return locked.scalar(select(ChatAgentSeen.seen_at).where(ChatAgentSeen.user_id == user_id))


def _wait_for(db: SerialDatabase, user_id: int, check, seconds: float = 10.0) -> datetime:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen = _seen_at(db, user_id)
        if seen is not None and check(seen):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"agent {user_id} seen_at stayed {_seen_at(db, user_id)}")


def _config(client: TestClient, brand: Brand) -> dict:  # type: ignore[type-arg]
    return client.get(f"/widget/api/config?brand={brand.slug}").json()


def test_online_only_while_the_agent_app_is_open_then_away_after_the_grace(
    client: TestClient, session: Session, serial_db: SerialDatabase, brand: Brand
) -> None:
    maria = make_user(session, role=Role.agent, name="Maria Lopez")
    maria.availability = Availability.online
    viewer_token = make_token(session, user=make_user(session, role=Role.admin, name="Ada Admin"))
    session.commit()
    # Set online, but the app is not open anywhere: nobody is there.
    assert _config(client, brand)["online"] is False
    auth = {"authorization": f"Bearer {viewer_token}"}
    assert {"id": maria.id, "availability": "away"} in client.get("/api/v1/chat/agents", headers=auth).json()["items"]

    cookie = {**_login_cookie(client.app, maria), "origin": "http://testserver"}  # type: ignore[arg-type]
    with client.websocket_connect("/realtime/ws", headers=cookie), \
            client.websocket_connect("/realtime/ws", headers=cookie) as second:
        _wait_for(serial_db, maria.id, lambda seen: seen > utcnow() - timedelta(seconds=5))
        assert _config(client, brand)["online"] is True
        second.close()
        time.sleep(0.3)  # one tab closed, the other still open: still seen now
        assert _seen_at(serial_db, maria.id) > utcnow() - timedelta(seconds=5)  # type: ignore[operator]
        items = client.get("/api/v1/chat/agents", headers=auth).json()["items"]
        assert {"id": maria.id, "availability": "online"} in items
    # The last tab closed: marked so that the grace runs out AGENT_AWAY_GRACE from now.
    left = _wait_for(serial_db, maria.id, lambda seen: seen < utcnow() - timedelta(seconds=10))
    grace_ends = left + chat_service.AGENT_LIVE_WINDOW
    assert abs((grace_ends - utcnow()) - chat_service.AGENT_AWAY_GRACE) < timedelta(seconds=5)

    with serial_db.transaction(read_only=True) as read:
        assert [u.id for u in chat_service.online_agents(read)] == [maria.id]  # within the grace (a reload)
        later = grace_ends + timedelta(seconds=1)
        assert chat_service.online_agents(read, now=later) == []
        assert chat_service.agent_availability(read, now=later)[maria.id] == "away"
        brand_row = read.get(Brand, brand.id)
        assert chat_service.public_config(read, brand=brand_row, now=later)["online"] is False
        # Her own choice is kept: when she opens the app again she is online without doing anything.
        assert read.get(User, maria.id).availability == Availability.online  # type: ignore[union-attr]


def test_api_token_connections_do_not_make_an_agent_online(
    client: TestClient, session: Session, serial_db: SerialDatabase, brand: Brand
) -> None:
    bot = make_user(session, role=Role.agent, name="Integration")
    bot.availability = Availability.online
    token = make_token(session, user=bot, scopes=["conversations:read"])
    session.commit()
    with client.websocket_connect(f"/realtime/ws?token={token}") as ws:
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"
        assert _seen_at(serial_db, bot.id) is None
        assert _config(client, brand)["online"] is False
