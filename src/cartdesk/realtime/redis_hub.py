"""The hub for several processes: Redis pub/sub for frames, Redis hashes for presence.

Every process subscribes to one channel (``<prefix>realtime``). Events are
published as ``{"frames": [...]}`` from whichever thread committed, with a plain
(thread-safe) Redis client, so ``cartdesk worker`` processes need no event loop.
Presence lives in one hash per conversation (``<prefix>presence:<id>``, field =
connection id, value = the entry with its expiry); a change publishes
``{"presence": <id>}`` and each process reads the hash and tells its own
subscribers. Reading on receipt, in order, means the last frame a client gets
always reflects the latest state, whichever process wrote it.

A sorted set (``<prefix>presence-active``: member = conversation id, score = the
latest expiry of its entries) lists the conversations with viewers, so a client
that connects can be told the current presence without scanning the keyspace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio as aioredis

from cartdesk.realtime.hub import Hub
from cartdesk.realtime.presence import Entry, presence_frame

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "cartdesk:"
_STOP_TIMEOUT_SECONDS = 5.0
_RECONNECT_DELAY_SECONDS = 1.0
# Removes connections from a presence hash and, in the same step, the conversation from
# the active set once the hash is empty, so a concurrent view cannot be dropped from it.
# An expected value ("" = any) spares an entry a heartbeat refreshed since it was read stale.
# KEYS: hash, active set. ARGV: conversation id, then pairs of connection id and expected value.
_REMOVE_SCRIPT = """
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '' or redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) end
return 0
"""


class RedisHub(Hub):
    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, **options: Any) -> None:
        super().__init__(**options)
        self.url = url
        self.prefix = prefix
        self.channel = f"{prefix}realtime"
        self.active_key = f"{prefix}presence-active"
        self._redis: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._stopping = False
        self._sync: redis.Redis | None = None
        self._sync_lock = threading.Lock()

    def _key(self, conversation_id: int) -> str:
        return f"{self.prefix}presence:{conversation_id}"

    # --- publishing from any thread ---------------------------------------------------------

    def publish_events(self, payloads: Sequence[dict[str, Any]]) -> None:
        if not payloads:
            return
        frames = [{"type": "event", "event": payload} for payload in payloads]
        # A blocking publish is fine here: it runs in the committing thread, after
        # commit, and takes a loopback round trip.
        self._publisher().publish(self.channel, json.dumps({"frames": frames}, default=str))

    def _publisher(self) -> redis.Redis:
        with self._sync_lock:
            if self._sync is None:
                self._sync = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
            return self._sync

    def close_publisher(self) -> None:
        with self._sync_lock:
            if self._sync is not None:
                self._sync.close()
                self._sync = None

    # --- lifecycle ----------------------------------------------------------------------

    async def _start_backend(self) -> None:
        self._stopping = False
        self._redis = aioredis.Redis.from_url(self.url, decode_responses=True)
        self._remove = self._redis.register_script(_REMOVE_SCRIPT)
        await self._subscribe()
        self._listener = asyncio.create_task(self._listen(), name="cartdesk-realtime-redis")

    async def _stop_backend(self) -> None:
        # Every step is bounded: a listener that swallows its cancellation inside the
        # Redis client, or a connection that never answers, must not hang shutdown.
        # The flag ends the listener for good when closing the connection below makes it
        # fail, instead of its reconnecting forever (which hung a test's loop shutdown).
        self._stopping = True
        if self._listener is not None:
            self._listener.cancel()
            _, pending = await asyncio.wait({self._listener}, timeout=_STOP_TIMEOUT_SECONDS)
            if pending:
                log.warning("the Redis realtime listener did not stop within %s s", _STOP_TIMEOUT_SECONDS)
            self._listener = None
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pubsub.aclose(), _STOP_TIMEOUT_SECONDS)
            self._pubsub = None
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._redis.aclose(), _STOP_TIMEOUT_SECONDS)
            self._redis = None
        self.close_publisher()

    async def _subscribe(self) -> None:
        assert self._redis is not None
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self.channel)
        # Wait for the server's confirmation: a frame published after start() returns
        # must not be missed because SUBSCRIBE was still in flight.
        while True:
            message = await pubsub.get_message(timeout=5.0)
            if message is None:
                raise ConnectionError(f"Redis did not confirm the subscription to {self.channel}")
            if message["type"] == "subscribe":
                break
        self._pubsub = pubsub

    async def _listen(self) -> None:
        while not self._stopping:
            try:
                async for message in self._pubsub.listen():
                    if self._stopping:
                        return
                    if message.get("type") == "message":
                        await self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping:
                    return
                log.exception("lost the Redis realtime subscription; reconnecting")
                await asyncio.sleep(_RECONNECT_DELAY_SECONDS)
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()
                with contextlib.suppress(Exception):
                    await self._subscribe()

    async def _receive(self, data: str) -> None:
        try:
            body = json.loads(data)
        except ValueError:
            log.warning("ignored a malformed realtime message on %s", self.channel)
            return
        if "presence" in body:
            conversation_id = int(body["presence"])
            self._fan_out([presence_frame(conversation_id, await self.viewers(conversation_id))])
        else:
            self._fan_out(body.get("frames") or [])

    # --- presence storage ---------------------------------------------------------------------

    async def _store(self, conversation_id: int, connection_id: str, entry: Entry | None) -> None:
        assert self._redis is not None
        key = self._key(conversation_id)
        if entry is None:
            await self._remove(keys=[key, self.active_key], args=[conversation_id, connection_id, ""])
            return
        # The hash and the active set go when nobody has refreshed them for two TTLs (every process died).
        ttl = int(self.presence_ttl * 2) + 1
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, connection_id, json.dumps(entry.to_json()))
            pipe.expire(key, ttl)
            pipe.zadd(self.active_key, {str(conversation_id): entry.expires_at}, gt=True)
            pipe.expire(self.active_key, ttl)
            await pipe.execute()

    async def _entries(self, conversation_id: int) -> list[Entry]:
        assert self._redis is not None
        key = self._key(conversation_id)
        raw = await self._redis.hgetall(key)
        now = self.clock()
        entries, stale = [], []
        for connection_id, value in raw.items():
            try:
                entry = Entry.from_json(json.loads(value))
            except (ValueError, KeyError, TypeError):
                stale.extend((connection_id, value))
                continue
            if entry.expires_at <= now:
                stale.extend((connection_id, value))  # left behind by a process that died
            else:
                entries.append(entry)
        if stale:
            await self._remove(keys=[key, self.active_key], args=[conversation_id, *stale])
        return entries

    async def _viewed_conversations(self, limit: int) -> list[int]:
        assert self._redis is not None
        now = self.clock()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self.active_key, "-inf", now)  # left behind by processes that died
            pipe.zrevrangebyscore(self.active_key, "+inf", f"({now}", start=0, num=limit)
            _, members = await pipe.execute()
        return [int(member) for member in members]

    async def _announce(self, conversation_id: int) -> None:
        assert self._redis is not None
        await self._redis.publish(self.channel, json.dumps({"presence": conversation_id}))
