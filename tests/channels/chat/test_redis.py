"""Two web processes sharing a RedisHub: the shopper's widget on one, the agent on the other."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.config import Settings
from cartdesk.jobs.runner import JobRunner
from tests.channels.chat.conftest import frames_until
from tests.factories.auth import auth_header
from tests.factories.chat import start_visitor
from tests.realtime.conftest import SerialDatabase

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("CARTDESK_TEST_REDIS_URL")
    if not url:
        if IN_CI:
            raise RuntimeError("CI must set CARTDESK_TEST_REDIS_URL so the Redis hub is tested")
        pytest.skip("CARTDESK_TEST_REDIS_URL is not set")
    return url


@pytest.fixture
def two_processes(settings: Settings, serial_db: SerialDatabase, redis_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    from cartdesk.app import create_app

    prefix = f"cartdesk-test:{uuid.uuid4().hex}:"
    shared = settings.model_copy(update={"redis_url": redis_url})
    apps = [create_app(shared, database=serial_db) for _ in range(2)]
    for app in apps:  # one private stream for this test (pub/sub channels span Redis databases)
        hub = app.state.hub
        hub.prefix, hub.channel, hub.active_key = prefix, f"{prefix}realtime", f"{prefix}presence-active"
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        yield a, b
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_messages_typing_and_replies_cross_processes(
    two_processes: tuple[TestClient, TestClient], session: Session, brand: Brand, agent_token: str,
    runner: JobRunner,
) -> None:
    shop, desk = two_processes
    visitor = start_visitor(shop, brand.slug)
    with shop.websocket_connect(f"/widget/ws?token={visitor['token']}") as widget, \
            desk.websocket_connect("/realtime/ws", headers=auth_header(agent_token)) as agent:
        widget.receive_json()
        widget.send_json({"type": "message", "client_id": "x1", "body": "Hello from process A"})
        ack = frames_until(widget, lambda f: f["type"] == "ack")[-1]
        created = frames_until(agent, lambda f: f["type"] == "event" and f["event"]["verb"] == "message.created")
        conversation_id = created[-1]["event"]["conversation_id"]
        agent.send_json({"type": "typing", "conversation_id": conversation_id, "typing": True})
        assert frames_until(widget, lambda f: f["type"] == "typing")[-1]["typing"] is True
        reply = desk.post(f"/api/v1/conversations/{conversation_id}/messages", json={"body": "Hi from process B"},
                          headers=auth_header(agent_token))
        assert reply.status_code == 201
        # The visitor is connected (to process A): process B delivers in the reply's own
        # transaction, and the hub carries the event across; no job is left to run.
        assert runner.run_pending() == 0
        frame = frames_until(widget, lambda f: f["type"] == "message" and f["author"] == "agent")[-1]
    assert frame["body"] == "Hi from process B" and frame["seq"] > ack["seq"]
