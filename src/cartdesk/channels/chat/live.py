"""The widget's side of the realtime hub: one relay per process, one connection per socket.

Widget sockets do not each subscribe to the hub (a hub subscriber receives every
event of every conversation; thousands of idle widgets would each pay for all of
them). One :class:`ChatRelay` per process subscribes once and routes by conversation
id to the widgets of that conversation in this process. With the Redis hub the
events of every process arrive here, so a shopper on process A hears a reply
written on process B.

A widget is told to *sync*, not handed data: it reads its chat log after its cursor
(``seq``) from the database. So a burst of events costs one read, a relay that
fell behind makes everyone re-read rather than lose frames, and nothing is ever
buffered per connection beyond one pending flag (the back-pressure rule: a client
that does not read its socket stalls only itself, and is closed after
``SEND_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from cartdesk.channels.chat import service as chat_service
from cartdesk.db.engine import Database
from cartdesk.realtime.hub import Hub
from cartdesk.realtime.presence import Viewer, initials_for

log = logging.getLogger(__name__)

TOUCH_INTERVAL_SECONDS = 30.0
SEND_TIMEOUT_SECONDS = 10.0
SYNC_BATCH = 200
# Events after which a widget may have something new to read.
_SYNC_VERBS = frozenset({"message.created", "message.delivery_updated", "conversation.merged"})


class WidgetConnection:
    """One widget socket: its visitor, its cursor in the chat log, and what it last told the client."""

    def __init__(
        self, *, send: Callable[[str], Any], close: Callable[[int, str], Any], relay: ChatRelay,
        visitor_id: int, visitor_name: str, conversation_id: int | None, cursor: int,
    ) -> None:
        self.id = "widget-" + uuid.uuid4().hex
        self._send, self._close = send, close
        self.relay = relay
        self.visitor_id = visitor_id
        self.viewer = Viewer(user_id=-visitor_id, name=visitor_name, initials=initials_for(visitor_name, "V"))
        self.conversation_id = conversation_id
        self.cursor = cursor
        self.closed = False
        self._lock = asyncio.Lock()
        self._syncing = False
        self._again = False
        self._agent_typing = False
        self._tasks: set[asyncio.Task[None]] = set()
        # Message ids this socket sent lately: their message.created event needs no read.
        self._sent_ids: deque[int] = deque(maxlen=8)
        self._posting = 0
        self._deferred: set[int] = set()

    def rename(self, name: str) -> None:
        self.viewer = Viewer(user_id=self.viewer.user_id, name=name, initials=initials_for(name, "V"))

    # --- sending -------------------------------------------------------------------------

    async def send(self, frame: dict[str, Any]) -> bool:
        if self.closed:
            return False
        try:
            # asyncio.timeout, not wait_for: wait_for wraps every send in a task of its own.
            async with self._lock, asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await self._send(json.dumps(frame, separators=(",", ":")))
            return True
        except TimeoutError:
            await self.close(1013, "not reading; reconnect to resume")
        except Exception:  # the socket went away mid-send
            log.debug("widget socket send failed", exc_info=True)
            self.closed = True
        return False

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            await self._close(code, reason)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- syncing from the chat log ---------------------------------------------------------

    def wake(self) -> None:
        """Something may be new: read the log after the cursor (coalesced while a read runs)."""
        if self.closed:
            return
        if self._syncing:
            self._again = True
            return
        self._syncing = True
        self._spawn(self._sync())

    async def _sync(self) -> None:
        try:
            while not self.closed:
                self._again = False
                frames = await run_in_threadpool(self.relay.read_log, self.visitor_id, self.cursor)
                if not await self._send_frames(frames):
                    return
                if len(frames) >= SYNC_BATCH:
                    continue
                await self.send({"type": "synced", "seq": self.cursor})
                if not self._again:
                    return
        except Exception:
            log.exception("widget sync failed for visitor %s", self.visitor_id)
        finally:
            self._syncing = False

    def begin_post(self) -> None:
        self._posting += 1

    def end_post(self) -> None:
        """The post is done (delivered or refused): events held meanwhile that it did not
        bring need the read they would have had."""
        self._posting -= 1
        if not self._posting and self._deferred:
            missed = self._deferred.difference(self._sent_ids)
            self._deferred.clear()
            if missed:
                self.wake()

    async def deliver(self, frames: list[dict[str, Any]]) -> None:
        """Log entries after the cursor that a caller already read (the visitor's own post reads
        them in its transaction), so the common case costs no second read. While a sync runs,
        or when the batch may be partial, it falls back to one."""
        if self.closed:
            return
        if self._syncing or len(frames) >= SYNC_BATCH:
            self.wake()
            return
        self._syncing = True
        try:
            if await self._send_frames(frames):
                await self.send({"type": "synced", "seq": self.cursor})
        finally:
            self._syncing = False
        if self._again:
            self.wake()

    async def _send_frames(self, frames: list[dict[str, Any]]) -> bool:
        for frame in frames:
            if frame["seq"] <= self.cursor:
                continue  # already sent by a sync that overlapped this one
            if not await self.send(frame):
                return False
            self.cursor = frame["seq"]
            self._sent_ids.append(frame["id"])
            if frame["conversation_id"] != self.conversation_id:
                self.relay.bind(self, frame["conversation_id"])
        return True

    # --- hub frames ----------------------------------------------------------------------------

    def on_event(self, event: dict[str, Any]) -> None:
        verb = event.get("verb")
        if verb == "message.created":
            message_id = event.get("subject_id")
            if message_id in self._sent_ids:
                return  # the visitor's own message, already sent with its ack
            if self._posting:  # most likely the post in flight: deliver() will bring it
                self._deferred.add(message_id)
                return
        if verb in _SYNC_VERBS:
            self.wake()
        elif verb == "chat.read" and (event.get("data") or {}).get("by") == "agent":
            self._spawn(self.send({"type": "read", "by": "agent", "seq": event["data"].get("seq")}))

    def on_presence(self, viewers: list[dict[str, Any]]) -> None:
        typing = [v for v in viewers if v.get("user_id", 0) > 0 and v.get("typing")]
        if bool(typing) != self._agent_typing:
            self._agent_typing = bool(typing)
            name = typing[0]["name"].split()[0] if typing else None
            self._spawn(self.send({"type": "typing", "typing": bool(typing), "name": name}))

    async def finish(self) -> None:
        self.closed = True
        for task in list(self._tasks):
            task.cancel()


class ChatRelay:
    """Routes hub frames to this process's widget connections, and keeps visitors marked seen."""

    def __init__(self, hub: Hub, database: Database, *, touch_interval: float = TOUCH_INTERVAL_SECONDS) -> None:
        self.hub = hub
        self.database = database
        self.touch_interval = touch_interval
        self.by_visitor: dict[int, set[WidgetConnection]] = {}
        self.by_conversation: dict[int, set[WidgetConnection]] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def connection_count(self) -> int:
        return sum(len(c) for c in self.by_visitor.values())

    def ensure_started(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cartdesk-chat-relay")

    # --- connections ---------------------------------------------------------------------------

    def add(self, connection: WidgetConnection) -> None:
        self.by_visitor.setdefault(connection.visitor_id, set()).add(connection)
        if connection.conversation_id is not None:
            self.by_conversation.setdefault(connection.conversation_id, set()).add(connection)

    def connections_of(self, visitor_id: int) -> set[WidgetConnection]:
        return self.by_visitor.get(visitor_id, set())

    def bind(self, connection: WidgetConnection, conversation_id: int) -> None:
        """The visitor's conversation is (now) ``conversation_id``: every socket of it here follows."""
        for other in self.connections_of(connection.visitor_id):
            if other.conversation_id is not None and other.conversation_id != conversation_id:
                self._discard(self.by_conversation, other.conversation_id, other)
            other.conversation_id = conversation_id
            self.by_conversation.setdefault(conversation_id, set()).add(other)

    def remove(self, connection: WidgetConnection) -> bool:
        """Forget a socket; True when it was the visitor's last one in this process."""
        self._discard(self.by_visitor, connection.visitor_id, connection)
        if connection.conversation_id is not None:
            self._discard(self.by_conversation, connection.conversation_id, connection)
        return connection.visitor_id not in self.by_visitor

    @staticmethod
    def _discard(index: dict[int, set[WidgetConnection]], key: int, connection: WidgetConnection) -> None:
        group = index.get(key)
        if group is not None:
            group.discard(connection)
            if not group:
                del index[key]

    # --- database reads and writes (worker threads) ---------------------------------------------

    def read_log(self, visitor_id: int, after: int) -> list[dict[str, Any]]:
        with self.database.transaction(read_only=True) as session:
            return chat_service.entries_since(session, visitor_id=visitor_id, after=after, limit=SYNC_BATCH)

    def _touch(self, visitor_ids: list[int]) -> None:
        with self.database.transaction() as session:
            chat_service.touch(session, visitor_ids=visitor_ids)

    # --- the hub ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_touch = loop.time() + self.touch_interval
        while True:
            subscription = self.hub.subscribe()
            try:
                while True:
                    timeout = max(0.0, next_touch - loop.time())
                    try:
                        frame = await asyncio.wait_for(subscription.get(), timeout)
                    except TimeoutError:
                        next_touch = loop.time() + self.touch_interval
                        if self.by_visitor:
                            try:
                                await run_in_threadpool(self._touch, list(self.by_visitor))
                            except Exception:
                                log.exception("could not mark chat visitors as seen")
                        continue
                    self._dispatch(frame)
            except Exception as exc:  # SubscriptionClosed (slow or shutdown) or a bug
                reason = getattr(exc, "reason", None)
                if reason == "shutdown" or reason == "closed":
                    return
                if reason != "slow":
                    log.exception("chat relay failed; resubscribing")
            finally:
                with contextlib.suppress(Exception):
                    await self.hub.unsubscribe(subscription)
            # We fell behind and frames were dropped: every widget re-reads its log.
            for group in list(self.by_visitor.values()):
                for connection in list(group):
                    connection.wake()
            await asyncio.sleep(0.1)

    def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "event":
            event = frame["event"]
            group = self.by_conversation.get(event.get("conversation_id"))  # type: ignore[arg-type]
            for connection in list(group or ()):
                connection.on_event(event)
        elif kind == "presence":
            group = self.by_conversation.get(frame.get("conversation_id"))  # type: ignore[arg-type]
            for connection in list(group or ()):
                connection.on_presence(frame.get("viewers") or [])
