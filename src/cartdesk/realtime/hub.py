"""The realtime hub: committed events and presence, fanned out to connected agents.

Two backends behind one interface: :class:`MemoryHub` for a single process (the
embedded default, no configuration) and :class:`~cartdesk.realtime.redis_hub.RedisHub`
when ``settings.redis_url`` is set, so that several web processes and
``cartdesk worker`` processes share one stream of events and one presence map.

Threading: the hub lives on the web server's event loop. :meth:`Hub.publish_events`
is the one method other threads call (it is an after-commit sink, run in whatever
thread committed); everything else runs on the loop.

Frames are plain dicts, already in the wire protocol of ``realtime/routes.py``:
``{"type": "event", "event": {...}}`` and
``{"type": "presence", "conversation_id": N, "viewers": [...]}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from cartdesk.config import Settings
from cartdesk.realtime.presence import (
    PRESENCE_TTL_SECONDS,
    TYPING_TTL_SECONDS,
    Entry,
    Viewer,
    presence_frame,
    viewers_of,
)
from cartdesk.realtime.subscription import DEFAULT_QUEUE_SIZE, Subscription

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 5.0
# At most this many conversations are sent to a client that connects (see current_presence):
# far more than a support team views at once, and small enough for one burst of frames.
PRESENCE_SNAPSHOT_LIMIT = 500


class Hub(ABC):
    """Subscribers, presence bookkeeping for this process's connections, and the sweeper.

    Backends decide where presence is stored (``_store``/``_entries``) and how a
    frame reaches every process's subscribers (``publish_events``/``_announce``).
    """

    def __init__(
        self,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        presence_ttl: float = PRESENCE_TTL_SECONDS,
        typing_ttl: float = TYPING_TTL_SECONDS,
        sweep_interval: float = SWEEP_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue_size = queue_size
        self.presence_ttl = presence_ttl
        self.typing_ttl = typing_ttl
        self.sweep_interval = sweep_interval
        self.clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: dict[str, Subscription] = {}
        # This process's connections: connection id -> conversation id -> entry.
        self._local: dict[str, dict[int, Entry]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._start_backend()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="cartdesk-presence-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for connection_id in list(self._local):
            await self.disconnect(connection_id)
        for subscription in list(self._subscribers.values()):
            subscription.close("shutdown")
        self._subscribers.clear()
        await self._stop_backend()
        self._loop = None

    def close_publisher(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`publish_events` holds open (used by ``cartdesk worker``)."""

    # --- events --------------------------------------------------------------------------

    @abstractmethod
    def publish_events(self, payloads: Sequence[dict[str, Any]]) -> None:
        """Deliver committed events (``events.service.as_payload`` dicts) to every subscriber.

        Thread-safe and non-blocking for the loop; called after commit, in order.
        """

    def subscribe(self) -> Subscription:
        subscription = Subscription(maxsize=self.queue_size)
        self._subscribers[subscription.id] = subscription
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a connection: its queue, and its presence everywhere."""
        subscription.close()
        self._subscribers.pop(subscription.id, None)
        await self.disconnect(subscription.id)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _fan_out(self, frames: Sequence[dict[str, Any]]) -> None:
        # On the loop. A subscriber that overflows is closed by offer(); drop it here.
        for subscription in list(self._subscribers.values()):
            for frame in frames:
                if not subscription.offer(frame):
                    self._subscribers.pop(subscription.id, None)
                    if subscription.reason == "slow":
                        log.info("closed slow realtime subscriber %s", subscription.id)
                    break

    # --- presence --------------------------------------------------------------------------

    async def view(self, connection_id: str, *, conversation_id: int, viewer: Viewer) -> bool:
        """Mark the connection as viewing; returns True when that was news (and was announced)."""
        entry, created = self._entry(connection_id, conversation_id, viewer)
        await self._store(conversation_id, connection_id, entry)
        if created:
            await self._announce(conversation_id)
        return created

    async def typing(self, connection_id: str, *, conversation_id: int, viewer: Viewer, typing: bool) -> None:
        now = self.clock()
        entry, created = self._entry(connection_id, conversation_id, viewer)
        was_typing = entry.live_typing(now)
        entry.typing = typing
        entry.typing_until = now + self.typing_ttl if typing else 0.0
        await self._store(conversation_id, connection_id, entry)
        if created or was_typing != typing:
            await self._announce(conversation_id)

    async def leave(self, connection_id: str, *, conversation_id: int) -> None:
        entry = self._local.get(connection_id, {}).pop(conversation_id, None)
        if entry is not None:
            await self._store(conversation_id, connection_id, None)
            await self._announce(conversation_id)

    async def heartbeat(self, connection_id: str) -> None:
        """Keep every conversation this connection views alive for another TTL."""
        expires_at = self.clock() + self.presence_ttl
        for conversation_id, entry in self._local.get(connection_id, {}).items():
            entry.expires_at = expires_at
            await self._store(conversation_id, connection_id, entry)

    async def disconnect(self, connection_id: str) -> None:
        for conversation_id in list(self._local.pop(connection_id, {})):
            await self._store(conversation_id, connection_id, None)
            await self._announce(conversation_id)

    async def viewers(self, conversation_id: int) -> list[dict[str, Any]]:
        return viewers_of(await self._entries(conversation_id), self.clock())

    async def current_presence(self, *, limit: int = PRESENCE_SNAPSHOT_LIMIT) -> list[dict[str, Any]]:
        """A presence frame for every conversation someone views now, for a client that just
        connected: announcements only carry changes, so it would otherwise see nobody."""
        frames = []
        for conversation_id in await self._viewed_conversations(limit):
            viewers = await self.viewers(conversation_id)
            if viewers:  # its last viewer may have left since it was listed
                frames.append(presence_frame(conversation_id, viewers))
        return frames

    async def sweep(self) -> None:
        """Expire viewers whose heartbeats stopped and typing flags that were never cleared."""
        now = self.clock()
        for connection_id, entries in list(self._local.items()):
            for conversation_id, entry in list(entries.items()):
                if entry.expires_at <= now:
                    del entries[conversation_id]
                    await self._store(conversation_id, connection_id, None)
                    await self._announce(conversation_id)
                elif entry.typing and entry.typing_until <= now:
                    entry.typing = False
                    await self._store(conversation_id, connection_id, entry)
                    await self._announce(conversation_id)
            if not entries:
                self._local.pop(connection_id, None)

    def _entry(self, connection_id: str, conversation_id: int, viewer: Viewer) -> tuple[Entry, bool]:
        now = self.clock()
        entries = self._local.setdefault(connection_id, {})
        entry = entries.get(conversation_id)
        created = entry is None
        if entry is None:
            entry = entries[conversation_id] = Entry(viewer=viewer, typing=False, expires_at=0.0, typing_until=0.0)
        entry.expires_at = now + self.presence_ttl
        return entry, created

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("presence sweep failed")

    # --- backend ---------------------------------------------------------------------------

    async def _start_backend(self) -> None:  # noqa: B027 - optional hook
        pass

    async def _stop_backend(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    async def _store(self, conversation_id: int, connection_id: str, entry: Entry | None) -> None:
        """Save (or with None, remove) one connection's entry where every process can read it."""

    @abstractmethod
    async def _entries(self, conversation_id: int) -> list[Entry]:
        """Every process's entries for a conversation (expired ones may be included)."""

    @abstractmethod
    async def _announce(self, conversation_id: int) -> None:
        """Send the conversation's current viewers to every process's subscribers."""

    @abstractmethod
    async def _viewed_conversations(self, limit: int) -> list[int]:
        """Up to ``limit`` conversations that may have live viewers in any process."""


class MemoryHub(Hub):
    """One process: the local presence map is the whole truth and fan-out is a loop."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._by_conversation: dict[int, dict[str, Entry]] = {}

    def publish_events(self, payloads: Sequence[dict[str, Any]]) -> None:
        loop = self._loop
        if loop is None or not payloads:
            return  # not serving (a CLI command, a stopped app): nobody to tell
        frames = [{"type": "event", "event": payload} for payload in payloads]
        try:
            loop.call_soon_threadsafe(self._fan_out, frames)
        except RuntimeError:  # the loop closed between the check and the call
            log.debug("realtime loop closed; %d event(s) not pushed", len(frames))

    async def _store(self, conversation_id: int, connection_id: str, entry: Entry | None) -> None:
        if entry is None:
            entries = self._by_conversation.get(conversation_id, {})
            entries.pop(connection_id, None)
            if not entries:
                self._by_conversation.pop(conversation_id, None)
        else:
            self._by_conversation.setdefault(conversation_id, {})[connection_id] = entry

    async def _entries(self, conversation_id: int) -> list[Entry]:
        return list(self._by_conversation.get(conversation_id, {}).values())

    async def _announce(self, conversation_id: int) -> None:
        self._fan_out([presence_frame(conversation_id, await self.viewers(conversation_id))])

    async def _viewed_conversations(self, limit: int) -> list[int]:
        return list(itertools.islice(self._by_conversation, limit))


def create_hub(settings: Settings, **options: Any) -> Hub:
    """Redis when configured (several processes), otherwise in memory (one process)."""
    if settings.redis_url:
        from cartdesk.realtime.redis_hub import RedisHub  # local: redis is only needed when used

        return RedisHub(settings.redis_url, **options)
    return MemoryHub(**options)
