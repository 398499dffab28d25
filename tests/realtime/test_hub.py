"""The in-memory hub: after-commit delivery, bounded queues, presence."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from cartdesk.db.engine import Database
from cartdesk.events import service as events_service
from cartdesk.events.schemas import SYSTEM
from cartdesk.realtime.hub import MemoryHub
from cartdesk.realtime.presence import Viewer
from cartdesk.realtime.subscription import Subscription, SubscriptionClosed

ANA = Viewer(user_id=1, name="Ana Lopez", initials="AL")
BEN = Viewer(user_id=2, name="Ben Ito", initials="BI")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def hub(clock: Clock) -> AsyncIterator[MemoryHub]:
    hub = MemoryHub(clock=clock, sweep_interval=3600)  # tests call sweep() themselves
    await hub.start()
    yield hub
    await hub.stop()


async def next_frame(subscription: Subscription) -> dict:
    return await asyncio.wait_for(subscription.get(), 10)


def _record(db: Database, verb: str, subject_id: int, *, fail: bool = False) -> None:
    with db.transaction() as s:
        events_service.record(s, verb=verb, actor=SYSTEM, subject_type="conversation", subject_id=subject_id,
                              conversation_id=subject_id)
        s.flush()
        if fail:
            raise RuntimeError("rolled back")


async def test_committed_events_reach_subscribers_and_rolled_back_ones_never(
    hub: MemoryHub, bound_db: Database
) -> None:
    bound_db.configure_info(event_sinks=[hub.publish_events])
    subscription = hub.subscribe()

    _record(bound_db, "conversation.updated", 7)
    frame = await next_frame(subscription)
    assert frame["type"] == "event"
    assert (frame["event"]["verb"], frame["event"]["conversation_id"]) == ("conversation.updated", 7)
    assert frame["event"]["id"] is not None  # the row's id: it was written before it was told

    with pytest.raises(RuntimeError):
        _record(bound_db, "conversation.rolled_back", 8, fail=True)
    _record(bound_db, "conversation.marker", 9)
    frame = await next_frame(subscription)
    assert frame["event"]["verb"] == "conversation.marker"  # nothing came from the rollback


async def test_publish_from_other_threads_keeps_order(hub: MemoryHub) -> None:
    subscription = hub.subscribe()
    thread = threading.Thread(target=lambda: [hub.publish_events([{"id": n}]) for n in range(50)])
    thread.start()
    await asyncio.to_thread(thread.join)
    received = [(await next_frame(subscription))["event"]["id"] for _ in range(50)]
    assert received == list(range(50))


async def test_slow_subscriber_is_closed_not_buffered_forever(clock: Clock) -> None:
    hub = MemoryHub(clock=clock, queue_size=3)
    await hub.start()
    try:
        slow, fast = hub.subscribe(), hub.subscribe()
        for n in range(5):
            hub.publish_events([{"id": n}])
            await asyncio.sleep(0)  # let the loop fan out
            assert (await next_frame(fast))["event"]["id"] == n
        assert slow.reason == "slow"
        with pytest.raises(SubscriptionClosed):
            await slow.get()
        assert hub.subscriber_count == 1
    finally:
        await hub.stop()
    assert fast.reason == "shutdown"


async def test_view_typing_leave_are_broadcast_to_everyone(hub: MemoryHub) -> None:
    ana, ben = hub.subscribe(), hub.subscribe()

    assert await hub.view(ana.id, conversation_id=5, viewer=ANA) is True
    for subscription in (ana, ben):
        frame = await next_frame(subscription)
        assert frame == {"type": "presence", "conversation_id": 5,
                         "viewers": [{"user_id": 1, "name": "Ana Lopez", "initials": "AL", "typing": False}]}

    assert await hub.view(ana.id, conversation_id=5, viewer=ANA) is False  # a heartbeat, not news
    await hub.view(ben.id, conversation_id=5, viewer=BEN)
    await hub.typing(ben.id, conversation_id=5, viewer=BEN, typing=True)
    await next_frame(ana)
    frame = await next_frame(ana)
    assert [(v["user_id"], v["typing"]) for v in frame["viewers"]] == [(1, False), (2, True)]

    await hub.leave(ben.id, conversation_id=5)
    assert [v["user_id"] for v in (await next_frame(ana))["viewers"]] == [1]
    await hub.unsubscribe(ana)  # disconnecting takes presence along
    # Ben saw every change: he joined, started typing, left, and Ana disconnected.
    seen_by_ben = [await next_frame(ben) for _ in range(4)]
    assert [[v["user_id"] for v in f["viewers"]] for f in seen_by_ben] == [[1, 2], [1, 2], [1], []]
    assert await hub.viewers(5) == []


async def test_two_tabs_of_one_agent_count_once_and_leave_separately(hub: MemoryHub) -> None:
    tab1, tab2, other = hub.subscribe(), hub.subscribe(), hub.subscribe()
    await hub.view(tab1.id, conversation_id=3, viewer=ANA)
    await hub.view(tab2.id, conversation_id=3, viewer=ANA)
    await hub.typing(tab2.id, conversation_id=3, viewer=ANA, typing=True)
    assert await hub.viewers(3) == [{"user_id": 1, "name": "Ana Lopez", "initials": "AL", "typing": True}]
    await hub.leave(tab2.id, conversation_id=3)
    assert await hub.viewers(3) == [{"user_id": 1, "name": "Ana Lopez", "initials": "AL", "typing": False}]
    await hub.leave(tab1.id, conversation_id=3)
    assert await hub.viewers(3) == []
    assert other.id  # the bystander stayed subscribed throughout


async def test_presence_expires_without_heartbeats_and_typing_expires_sooner(hub: MemoryHub, clock: Clock) -> None:
    watcher = hub.subscribe()
    await hub.view("tab-a", conversation_id=9, viewer=ANA)
    await hub.typing("tab-b", conversation_id=9, viewer=BEN, typing=True)
    for _ in range(2):  # Ana arrived; Ben arrived typing
        await next_frame(watcher)

    clock.now += hub.typing_ttl + 1
    await hub.heartbeat("tab-a")
    await hub.heartbeat("tab-b")
    await hub.sweep()
    frame = await next_frame(watcher)
    assert [(v["user_id"], v["typing"]) for v in frame["viewers"]] == [(1, False), (2, False)]

    clock.now += hub.presence_ttl - 1
    await hub.heartbeat("tab-a")  # Ana's tab is alive; Ben's went quiet
    clock.now += 2
    await hub.sweep()
    frame = await next_frame(watcher)
    assert [v["user_id"] for v in frame["viewers"]] == [1]

    clock.now += hub.presence_ttl + 1
    await hub.sweep()
    assert (await next_frame(watcher))["viewers"] == []


async def test_current_presence_lists_every_conversation_with_live_viewers(hub: MemoryHub, clock: Clock) -> None:
    assert await hub.current_presence() == []
    await hub.view("tab-a", conversation_id=4, viewer=ANA)
    await hub.typing("tab-b", conversation_id=4, viewer=BEN, typing=True)
    await hub.view("tab-b", conversation_id=6, viewer=BEN)
    await hub.view("tab-a", conversation_id=8, viewer=ANA)
    await hub.leave("tab-a", conversation_id=8)

    frames = sorted(await hub.current_presence(), key=lambda f: f["conversation_id"])
    assert [(f["type"], f["conversation_id"]) for f in frames] == [("presence", 4), ("presence", 6)]
    assert [(v["user_id"], v["typing"]) for v in frames[0]["viewers"]] == [(1, False), (2, True)]
    assert [v["user_id"] for v in frames[1]["viewers"]] == [2]
    assert len(await hub.current_presence(limit=1)) == 1

    clock.now += hub.presence_ttl + 1  # nobody heartbeated: expired even before a sweep
    assert await hub.current_presence() == []


async def test_publish_before_start_is_dropped_quietly(clock: Clock) -> None:
    hub = MemoryHub(clock=clock)
    hub.publish_events([{"id": 1}])  # e.g. a CLI command: no loop, nobody listening
    await hub.start()
    subscription = hub.subscribe()
    hub.publish_events([{"id": 2}])
    assert (await next_frame(subscription))["event"]["id"] == 2
    await hub.stop()
