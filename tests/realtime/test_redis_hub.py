"""RedisHub across two hub instances, standing in for two processes (web + web, web + worker)."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis

from cartdesk.realtime.presence import Viewer
from cartdesk.realtime.redis_hub import RedisHub
from cartdesk.realtime.subscription import Subscription
from tests.conftest import IN_CI

ANA = Viewer(user_id=1, name="Ana Lopez", initials="AL")
BEN = Viewer(user_id=2, name="Ben Ito", initials="BI")


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("CARTDESK_TEST_REDIS_URL")
    if not url:
        if IN_CI:
            raise RuntimeError("CI must set CARTDESK_TEST_REDIS_URL so the Redis hub is tested")
        pytest.skip("CARTDESK_TEST_REDIS_URL is not set")
    return url


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    prefix = f"cartdesk-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def make_hub(redis_url: str, prefix: str) -> AsyncIterator[Callable[..., object]]:
    started: list[RedisHub] = []

    async def make(**options: object) -> RedisHub:
        hub = RedisHub(redis_url, prefix=prefix, sweep_interval=3600, **options)
        await hub.start()
        started.append(hub)
        return hub

    yield make
    for hub in started:
        await hub.stop()


async def next_frame(subscription: Subscription) -> dict:
    return await asyncio.wait_for(subscription.get(), 10)


async def test_events_published_by_one_process_reach_subscribers_of_another(make_hub) -> None:  # type: ignore[no-untyped-def]
    web, other_web = await make_hub(), await make_hub()
    a, b = web.subscribe(), other_web.subscribe()

    # Published from a worker thread, as an after-commit sink does.
    thread = threading.Thread(target=web.publish_events, args=([{"id": 1, "verb": "message.created"}],))
    thread.start()
    thread.join()
    for subscription in (a, b):
        frame = await next_frame(subscription)
        assert frame == {"type": "event", "event": {"id": 1, "verb": "message.created"}}

    other_web.publish_events([{"id": 2}, {"id": 3}])
    assert [(await next_frame(a))["event"]["id"] for _ in range(2)] == [2, 3]


async def test_a_worker_publishes_without_an_event_loop(make_hub, redis_url: str, prefix: str) -> None:  # type: ignore[no-untyped-def]
    web = await make_hub()
    subscription = web.subscribe()
    worker = RedisHub(redis_url, prefix=prefix)  # never started, like `cartdesk worker`
    try:
        await asyncio.to_thread(worker.publish_events, [{"id": 42}])
    finally:
        worker.close_publisher()
    assert (await next_frame(subscription))["event"]["id"] == 42


async def test_presence_is_shared_across_processes(make_hub) -> None:  # type: ignore[no-untyped-def]
    one, two = await make_hub(), await make_hub()
    ana, ben = one.subscribe(), two.subscribe()

    await one.view(ana.id, conversation_id=11, viewer=ANA)
    frame = await next_frame(ben)
    assert frame["conversation_id"] == 11 and [v["user_id"] for v in frame["viewers"]] == [1]

    await two.typing(ben.id, conversation_id=11, viewer=BEN, typing=True)
    frame = await next_frame(ben)
    assert [(v["user_id"], v["typing"]) for v in frame["viewers"]] == [(1, False), (2, True)]
    assert [v["user_id"] for v in await one.viewers(11)] == [1, 2]

    await one.unsubscribe(ana)  # a disconnect in process one...
    frame = await next_frame(ben)
    assert [v["user_id"] for v in frame["viewers"]] == [2]  # ...is seen in process two


async def test_entries_of_a_dead_process_expire_for_everyone(make_hub, redis_url: str, prefix: str) -> None:  # type: ignore[no-untyped-def]
    now = [1_000_000.0]
    alive = await make_hub(clock=lambda: now[0])
    dying = RedisHub(redis_url, prefix=prefix, sweep_interval=3600, clock=lambda: now[0])
    await dying.start()
    await dying.view("tab-of-dying-process", conversation_id=12, viewer=BEN)
    await alive.view("tab-alive", conversation_id=12, viewer=ANA)
    # The dying process stops its listener without saying goodbye (killed).
    await dying._stop_backend()

    now[0] += alive.presence_ttl - 1
    await alive.heartbeat("tab-alive")
    now[0] += 2
    assert [v["user_id"] for v in await alive.viewers(12)] == [1]
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert list(client.hgetall(f"{prefix}presence:12")) == ["tab-alive"]  # cleaned up on read
    client.close()


async def test_a_new_connection_can_read_presence_written_by_another_process(  # type: ignore[no-untyped-def]
    make_hub, redis_url: str, prefix: str
) -> None:
    one, two = await make_hub(), await make_hub()
    await one.view("tab-ana", conversation_id=21, viewer=ANA)
    await one.view("tab-ana", conversation_id=22, viewer=ANA)
    await two.typing("tab-ben", conversation_id=21, viewer=BEN, typing=True)
    await one.leave("tab-ana", conversation_id=22)

    frames = await two.current_presence()
    assert [f["conversation_id"] for f in frames] == [21]
    assert [(v["user_id"], v["typing"]) for v in frames[0]["viewers"]] == [(1, False), (2, True)]

    await one.disconnect("tab-ana")
    await two.disconnect("tab-ben")
    assert await one.current_presence() == []
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.zrange(f"{prefix}presence-active", 0, -1) == []  # emptied conversations leave the index
    client.close()


async def test_conversations_of_a_dead_process_leave_the_index(make_hub) -> None:  # type: ignore[no-untyped-def]
    now = [1_000_000.0]
    alive = await make_hub(clock=lambda: now[0])
    await alive.view("tab-of-a-process-that-dies", conversation_id=23, viewer=BEN)
    assert [f["conversation_id"] for f in await alive.current_presence()] == [23]
    now[0] += alive.presence_ttl + 1  # no heartbeat, no goodbye
    assert await alive.current_presence() == []


async def test_stop_ends_a_listener_that_swallows_its_cancellation(  # type: ignore[no-untyped-def]
    make_hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Redis client can swallow a task's cancellation while it reads; then only closing
    # the connection ends the read, and the listener must not take that for an outage and
    # resubscribe forever (it kept a test's event loop from closing for five minutes).
    import redis.asyncio.client as aioclient

    closed = asyncio.Event()
    real_aclose = aioclient.PubSub.aclose

    async def stubborn_listen(self):  # type: ignore[no-untyped-def]
        while True:
            try:
                await closed.wait()
                raise redis.ConnectionError("Connection closed by server.")
            except asyncio.CancelledError:
                continue
        yield {}  # an async generator, like the real one

    async def aclose(self) -> None:  # type: ignore[no-untyped-def]
        closed.set()
        await real_aclose(self)

    monkeypatch.setattr(aioclient.PubSub, "listen", stubborn_listen)
    monkeypatch.setattr(aioclient.PubSub, "aclose", aclose)
    hub = await make_hub()
    listener = hub._listener
    await asyncio.wait_for(hub.stop(), 15)
    await asyncio.wait({listener}, timeout=5)
    assert listener.done()
