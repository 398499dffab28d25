from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Availability, Role, User
from cartdesk.brands.models import Brand
from cartdesk.channels.chat import service as chat_service
from cartdesk.config import Settings
from cartdesk.db.engine import Database
from cartdesk.jobs.runner import JobRunner
from tests.factories.auth import make_token, make_user
from tests.factories.conversations import make_brand
from tests.realtime.conftest import SerialDatabase


@pytest.fixture
def serial_db(bound_db: Database) -> SerialDatabase:
    return SerialDatabase(engine=bound_db.engine, sessionmaker=bound_db.sessionmaker,
                          read_sessionmaker=bound_db.read_sessionmaker)


@pytest.fixture
def app(settings: Settings, serial_db: SerialDatabase):  # type: ignore[no-untyped-def]
    from cartdesk.app import create_app

    return create_app(settings, database=serial_db)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


@pytest.fixture
def brand(session: Session) -> Brand:
    brand = make_brand(session, slug="northwind", name="Northwind Outfitters")
    session.commit()
    return brand


@pytest.fixture
def agent(session: Session) -> User:
    user = make_user(session, role=Role.admin, name="Maria Lopez")
    user.availability = Availability.online
    chat_service.agents_seen(session, user_ids=[user.id])  # as if the agent app were open
    session.commit()
    return user


@pytest.fixture
def agent_token(session: Session, agent: User) -> str:
    token = make_token(session, user=agent)
    session.commit()
    return token


@pytest.fixture
def runner(serial_db: SerialDatabase, settings: Settings) -> JobRunner:
    return JobRunner(serial_db, settings=settings, worker_id="chat-test-runner")


def frames_until(ws: Any, wanted: Callable[[dict[str, Any]], bool], *, seconds: float = 10.0) -> list[dict[str, Any]]:
    """Every frame up to and including the first ``wanted`` one. Pings keep the wait bounded:
    the server answers each with a pong, so a missing frame fails the test instead of hanging."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ws.send_json({"type": "ping"})
        while True:
            frame = ws.receive_json()
            if frame["type"] == "pong":
                break
            frames.append(frame)
            if wanted(frame):
                return frames
        time.sleep(0.15)  # pings are frames too: stay under the socket's 10/s control limit
    raise AssertionError(f"the expected frame never came; got {frames}")


def until_pong(ws: Any) -> list[dict[str, Any]]:
    ws.send_json({"type": "ping"})
    frames = []
    while True:
        frame = ws.receive_json()
        if frame["type"] == "pong":
            return frames
        frames.append(frame)


def wait_until_left(client: TestClient, db: SerialDatabase, token: str) -> None:
    """Block until the server has finished closing the visitor's sockets (it marks the visitor
    away in the database), so the test's own session is not used beside the app's threads."""
    from datetime import timedelta

    from cartdesk.channels.chat.models import ChatVisitor
    from cartdesk.kit.clock import utcnow

    claim = client.app.state.chat_tokens.read(token)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.transaction(read_only=True) as locked:
            seen = locked.scalar(select(ChatVisitor.last_seen_at).where(ChatVisitor.public_id == claim.public_id))
        if seen is not None and seen < utcnow() - timedelta(seconds=60):
            return
        time.sleep(0.05)
    raise AssertionError("the server never finished closing the widget socket")
