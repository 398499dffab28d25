"""A cap on what one address may send to public, unauthenticated endpoints.

Anyone can post article feedback, a contact message or a page view without logging
in (the help center, the feedback API), so one address is held to a few per window;
above it the caller gets 429 (the view beacon is simply not counted). In-process memory, like the login throttle:
per web process, which still caps abuse at a small multiple.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from fastapi import Request

from cartdesk.kit.errors import RateLimited

# action → (requests, seconds)
LIMITS = {"contact": (5, 600.0), "feedback": (30, 600.0), "deflect": (30, 600.0), "view": (120, 600.0)}


class PublicThrottle:
    def __init__(self, limits: dict[str, tuple[int, float]] | None = None) -> None:
        self.limits = limits or LIMITS
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, action: str, ip: str | None) -> bool:
        """Count one request; False when this address is over the action's limit."""
        limit, window = self.limits[action]
        key, now = f"{action}:{ip or '-'}", time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            if len(self._hits) > 50_000:  # keep memory bounded: forget idle addresses
                self._hits = {k: v for k, v in self._hits.items() if v}
            return True


def throttle(request: Request) -> PublicThrottle:
    state = request.app.state
    if not hasattr(state, "hc_throttle"):
        state.hc_throttle = PublicThrottle()
    return state.hc_throttle  # type: ignore[no-any-return]


def check(request: Request, action: str) -> None:
    """Raise 429 when this address has sent too many of ``action`` lately."""
    if not throttle(request).allow(action, request.client.host if request.client else None):
        raise RateLimited("Too many requests from your address; please wait a few minutes and try again.")
