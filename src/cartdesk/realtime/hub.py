"""Realtime hub: delivers committed events to connected agents (placeholder, see issue #2 work)."""

from __future__ import annotations

import asyncio
from typing import Any

from cartdesk.config import Settings


class MemoryHub:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        self._subscribers.clear()

    def publish_events(self, payloads: list[dict[str, Any]]) -> None:
        loop = self._loop
        if loop is None:
            return
        for payload in payloads:
            loop.call_soon_threadsafe(self._fan_out, {"type": "event", "event": payload})

    def _fan_out(self, message: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            queue.put_nowait(message)


def create_hub(settings: Settings) -> MemoryHub:
    return MemoryHub()
