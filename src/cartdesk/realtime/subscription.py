"""One connection's inbox of frames, bounded so a slow client cannot eat the server's memory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

DEFAULT_QUEUE_SIZE = 1000
_CLOSED: dict[str, Any] = {"type": "_closed"}


class SubscriptionClosed(Exception):
    """The subscription ended: ``reason`` is "slow" (it overflowed), "shutdown" or "closed"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Subscription:
    """Frames for one connection, in order. Used from the hub's event loop only.

    When the queue is full the subscription is closed rather than grown: the
    client reconnects and reloads, which is cheaper for everyone than a server
    buffering minutes of events for a tab on a dead network.
    """

    def __init__(self, *, maxsize: int = DEFAULT_QUEUE_SIZE) -> None:
        self.id = uuid.uuid4().hex
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize + 1)  # +1: room for _CLOSED
        self._maxsize = maxsize
        self.reason: str | None = None

    @property
    def closed(self) -> bool:
        return self.reason is not None

    def offer(self, frame: dict[str, Any]) -> bool:
        """Queue a frame; returns False (and closes) when the consumer is too slow."""
        if self.closed:
            return False
        if self._queue.qsize() >= self._maxsize:
            self.close("slow")
            return False
        self._queue.put_nowait(frame)
        return True

    def close(self, reason: str = "closed") -> None:
        if self.closed:
            return
        self.reason = reason
        if reason == "slow":
            # Nothing queued will be read usefully: the client must reload anyway.
            while not self._queue.empty():
                self._queue.get_nowait()
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSED)

    async def get(self) -> dict[str, Any]:
        frame = await self._queue.get()
        if frame is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # later calls end too
            raise SubscriptionClosed(self.reason or "closed")
        return frame

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            return await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None
