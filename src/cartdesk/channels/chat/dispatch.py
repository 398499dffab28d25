"""When queued chats are handed out: after a commit that may have freed a seat, when an
agent arrives, and on the agent heartbeat as a safety net.

:class:`RoutingTrigger` is an event sink (``events.service``): it hears every committed
event of this process. It remembers which brands have chats waiting (``queued``: learnt
from ``chat.queued`` events and from every drain), and after an event that may free a
seat for one of them asks for a :func:`routing.drain` of that brand. Requests coalesce: a
burst of events costs one drain, run off the loop in its own transaction. While no chat
waits — the usual case — events cost a set lookup and no query.

What no event of this process announces is covered by ``AgentConnections``: it drains when
an agent's first connection opens and on each heartbeat (every 30 s), and tells the trigger
which brands still have a queue. So with several processes a seat freed on a process that
never saw the chat queued is filled within one heartbeat; the routing lock makes two
processes draining at once harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import anyio.from_thread
from starlette.concurrency import run_in_threadpool

from cartdesk.channels.chat import routing
from cartdesk.db.engine import Database

log = logging.getLogger(__name__)

# Events after which someone may be able to take a queued chat.
FREEING_VERBS = frozenset({
    "conversation.status_changed",  # a chat solved, closed, pending: a seat freed
    "conversation.assigned",  # reassigned away, or unassigned back into the queue
    "conversation.updated",  # moved to another team
    "conversation.merged",
    "user.updated",  # availability, teams, deactivation
    "chat.settings_updated",  # more seats, another team, routing turned on
})


def _wanted(payload: dict[str, Any]) -> bool:
    if payload.get("verb") not in FREEING_VERBS:
        return False
    actor = payload.get("actor") or {}
    # Routing's own assignments fill seats; draining after them would only find the same state.
    return not (actor.get("type") == routing.ROUTER.type and actor.get("name") == routing.ROUTER.name)


class RoutingTrigger:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queued: set[int] = set()  # brands with chats waiting, as far as this process knows
        self._pending: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    def on_events(self, payloads: Sequence[dict[str, Any]]) -> None:
        """The event sink: any thread, after commit; never blocks and never raises."""
        wanted: set[int] = set()
        for payload in payloads:
            if payload.get("verb") == "chat.queued" and payload.get("brand_id") is not None:
                self.queued.add(payload["brand_id"])
            elif _wanted(payload):
                brand_id = payload.get("brand_id")
                wanted |= set(self.queued) if brand_id is None else {brand_id} & self.queued
        if not wanted:
            return
        loop = self._loop()
        if loop is None:
            return  # not serving (a CLI command, a worker process): the agents' heartbeat sweeps
        try:
            loop.call_soon_threadsafe(self._request, wanted)
        except RuntimeError:  # the loop closed meanwhile
            log.debug("chat routing: loop closed; drain skipped")

    def _loop(self) -> asyncio.AbstractEventLoop | None:
        if self.loop is not None and not self.loop.is_closed():
            return self.loop
        try:
            self.loop = asyncio.get_running_loop()
        except RuntimeError:
            try:  # a worker thread of the serving loop (sync routes, run_in_threadpool)
                self.loop = anyio.from_thread.run_sync(asyncio.get_running_loop)
            except Exception:
                return None
        return self.loop

    def _request(self, brands: set[int]) -> None:
        self._pending |= brands
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cartdesk-chat-routing")

    async def _run(self) -> None:
        while self._pending:
            brands, self._pending = self._pending, set()
            try:
                await run_in_threadpool(self.drain, brands)
            except Exception:  # routing is retried by the next event or heartbeat
                log.exception("chat routing: drain failed")

    def drain(self, brands: set[int]) -> list[routing.Decision]:
        with self.database.transaction() as session:
            decisions = [d for brand_id in sorted(brands) for d in routing.drain(session, brand_id=brand_id)]
            still = routing.queued_brands(session, brand_ids=brands)
        self.learn(still, of=brands)
        return decisions

    def learn(self, queued: set[int], *, of: set[int] | None = None) -> None:
        """What a drain found still waiting (``of``: the brands it looked at; None: all)."""
        if of is None:
            self.queued = set(queued)
        else:
            self.queued = (self.queued - of) | queued
