"""Which agents have the agent app open, per process, so "online" means someone is there.

The realtime endpoint tells every listener in ``app.state.connection_listeners`` when an
agent's connection opens and closes. This one counts connections per agent in this process,
records the agent as seen at once on the first, refreshes every connected agent in one
statement every ``AGENT_TOUCH_SECONDS``, and on the last close marks them seen just long
enough ago that they turn away after ``AGENT_AWAY_GRACE`` unless they come back (a reload).
The record lives in the database, so with several processes an agent is online while any
of them holds a connection; a crashed process simply stops refreshing.

Each of those writes also hands out queued chats (``routing.drain``): an agent who just
arrived can take one, and the heartbeat catches whatever no event announced.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from cartdesk.channels.chat import routing
from cartdesk.channels.chat import service as chat_service
from cartdesk.channels.chat.dispatch import RoutingTrigger
from cartdesk.db.engine import Database

log = logging.getLogger(__name__)
AGENT_TOUCH_SECONDS = 30.0


class AgentConnections:
    def __init__(self, database: Database, *, trigger: RoutingTrigger | None = None,
                 touch_interval: float = AGENT_TOUCH_SECONDS) -> None:
        self.database = database
        self.trigger = trigger
        self.touch_interval = touch_interval
        self.counts: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def opened(self, user_id: int) -> None:
        self.counts[user_id] = self.counts.get(user_id, 0) + 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._refresh(), name="cartdesk-chat-agents")
        if self.counts[user_id] == 1:
            await self._write(self._seen, [user_id])

    async def closed(self, user_id: int) -> None:
        left = self.counts.get(user_id, 0) - 1
        if left > 0:
            self.counts[user_id] = left
            return
        self.counts.pop(user_id, None)
        await self._write(self._left, user_id)

    def _seen(self, user_ids: list[int]) -> None:
        with self.database.transaction() as session:
            chat_service.agents_seen(session, user_ids=user_ids)
            routing.drain(session)
            still = routing.queued_brands(session)
        if self.trigger is not None:
            self.trigger.learn(still)

    def _left(self, user_id: int) -> None:
        with self.database.transaction() as session:
            chat_service.agent_left(session, user_id=user_id)

    async def _write(self, fn, arg) -> None:  # type: ignore[no-untyped-def]
        try:
            await run_in_threadpool(fn, arg)
        except Exception:  # availability is a nicety: never refuse or break a connection for it
            log.exception("could not record agent availability")

    async def _refresh(self) -> None:
        while self.counts:
            await asyncio.sleep(self.touch_interval)
            if self.counts:
                await self._write(self._seen, list(self.counts))
