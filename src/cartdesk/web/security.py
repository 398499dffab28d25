"""Session-side security for the web app: CSRF tokens, flashes, the login throttle.

CSRF: every session carries a random token. A state-changing request that is
authenticated by the session cookie must echo it, in the ``X-CSRF-Token`` header
(htmx sends it from ``hx-headers`` on ``<body>``) or a ``csrf_token`` form field
(plain forms). Bearer-token requests are exempt: a browser never attaches an
``Authorization`` header on its own, so they cannot be forged cross-site.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_SESSION_KEY = "csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
FLASH_KEY = "flash"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Forms we read the token from are small; anything larger must use the header.
_MAX_FORM_BYTES = 1024 * 1024


def csrf_token(request: Request) -> str:
    """This session's token, created on first use."""
    session = request.scope.get("session")
    if session is None:  # no SessionMiddleware (bare API app): nothing to protect
        return ""
    token = session.get(CSRF_SESSION_KEY)
    if not token:
        token = session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)
    return str(token)


def rotate_csrf_token(request: Request) -> str:
    """A fresh token at login, so a token planted before login is worthless after it."""
    request.session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)
    return str(request.session[CSRF_SESSION_KEY])


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def flash(request: Request, text: str, kind: str = "success") -> None:
    """A one-time message shown on the next full page (after a redirect)."""
    # Assigned, not appended in place: Starlette only writes the cookie when the session
    # is marked modified, which an in-place append to a pending list does not do.
    request.session[FLASH_KEY] = [*request.session.get(FLASH_KEY, []), {"kind": kind, "text": text}]


def pop_flashes(request: Request) -> list[dict[str, str]]:
    session = request.scope.get("session")
    if not session:
        return []
    return list(session.pop(FLASH_KEY, []) or [])


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: ``next`` must never turn the login page into an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


class CSRFMiddleware:
    """Rejects cookie-authenticated unsafe requests that do not carry the session's token.

    Runs inside SessionMiddleware (it needs ``scope["session"]``). Requests without a
    logged-in session pass through: they cannot act as anyone, and the login form
    checks its own token.
    """

    def __init__(self, app: ASGIApp, *, reject: Any) -> None:
        self.app = app
        self.reject = reject  # (scope, message) -> ASGI response; renders HTML or JSON

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        session = scope.get("session") or {}
        if "authorization" in headers or not session.get("uid"):
            await self.app(scope, receive, send)
            return
        expected = session.get(CSRF_SESSION_KEY)
        given = headers.get(CSRF_HEADER)
        if given is None and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            body, receive = await _buffer_body(receive)
            if body is not None:
                given = (parse_qs(body.decode("latin-1")).get(CSRF_FIELD) or [None])[0]
        if not tokens_match(expected, given):
            response = self.reject(scope, "The form expired or came from another site. Reload the page and try again.")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _buffer_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the whole (small) body, and give back a receive that replays it downstream."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_FORM_BYTES:
            return None, receive
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


class LoginThrottle:
    """Slows password guessing: after ``max_failures`` failed logins for one email (or
    ``max_failures_per_ip`` from one address) within ``window`` seconds, further
    attempts are refused until the oldest failure ages out.

    In-process memory: enough for one web process; a multi-process deployment keeps
    one throttle per process, which still caps guessing at a small multiple.
    """

    def __init__(self, *, max_failures: int = 5, max_failures_per_ip: int = 30, window: float = 900.0) -> None:
        self.max_failures = max_failures
        self.max_failures_per_ip = max_failures_per_ip
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, email: str, ip: str | None) -> Iterable[tuple[str, int]]:
        yield "email:" + email.strip().lower(), self.max_failures
        if ip:
            yield "ip:" + ip, self.max_failures_per_ip

    def retry_after(self, *, email: str, ip: str | None) -> int | None:
        """Seconds until another attempt is allowed, or None when allowed now."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key, limit in self._keys(email, ip):
                times = self._prune(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[0] + self.window - now)
                elif not times:
                    del self._failures[key]  # keep memory bounded by recent failures only
        return int(wait) + 1 if wait > 0 else None

    def record_failure(self, *, email: str, ip: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            for key, _ in self._keys(email, ip):
                self._prune(key, now).append(now)

    def record_success(self, *, email: str) -> None:
        with self._lock:
            self._failures.pop("email:" + email.strip().lower(), None)

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

