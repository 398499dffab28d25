"""Live updates for the agent app: a WebSocket at /realtime/ws and an SSE fallback at /realtime/events.

This is the web edge of the realtime platform. Like every ``routes.py`` it may
use domains — auth to know who connects, conversations to know what they may
see — while the hub underneath stays domain-free.

Protocol (JSON text frames):

server → client
  {"type": "event", "event": <events.service.as_payload dict>}
  {"type": "presence", "conversation_id": N,
   "viewers": [{"user_id": .., "name": .., "initials": .., "typing": bool}, ...]}
  {"type": "pong"}
  {"type": "error", "error": "<why the last frame was refused>"}

  On connect the server first sends a presence frame for every conversation the
  client may see that someone is viewing; after that, presence frames are changes.

client → server
  {"type": "view", "conversation_id": N}       answered with a presence frame
  {"type": "leave", "conversation_id": N}
  {"type": "typing", "conversation_id": N, "typing": true|false}
  {"type": "ping"}                              heartbeat, answered with pong

Close codes: 4401 not authenticated, 4403 cross-site cookie use refused,
1013 the client fell too far behind (reconnect and reload), 1012 server restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import anyio
from fastapi import Request, WebSocket
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from cartdesk.kit.errors import Unauthorized
from cartdesk.kit.routing import Router
from cartdesk.realtime.access import Gate, Listener, authenticate
from cartdesk.realtime.hub import Hub
from cartdesk.realtime.presence import presence_frame
from cartdesk.realtime.subscription import Subscription, SubscriptionClosed

log = logging.getLogger(__name__)

router = Router(tags=["realtime"])

SSE_KEEPALIVE_SECONDS = 15.0
_MAX_FRAME_CHARS = 4096


def _encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, default=str, separators=(",", ":"))


def _query_or_bearer_token(headers: Any, query: Any) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return query.get("token") or None


def _same_origin(websocket: WebSocket) -> bool:
    """Cookies ride along on cross-site WebSocket handshakes, so a browser's Origin
    must be this site (the Host it connected to, or the configured base URL)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: no ambient cookie to abuse
    netloc = urlsplit(origin).netloc.lower()
    allowed = {websocket.headers.get("host", "").lower(),
               urlsplit(websocket.app.state.settings.base_url).netloc.lower()}
    return netloc in allowed


# --- WebSocket -------------------------------------------------------------------------------


@router.websocket("/realtime/ws")
async def realtime_socket(websocket: WebSocket) -> None:
    token = _query_or_bearer_token(websocket.headers, websocket.query_params)
    listener = await run_in_threadpool(
        authenticate, websocket.app.state.db, session_data=websocket.scope.get("session") or {}, token=token
    )
    if listener is None:
        await _refuse(websocket, 4401, "authentication required")
        return
    if token is None and not _same_origin(websocket):
        await _refuse(websocket, 4403, "cross-site connection refused")
        return
    hub: Hub = websocket.app.state.hub
    # Subscribed before accepting: once the client sees the socket open, it misses nothing.
    subscription = hub.subscribe()
    gate = Gate(websocket.app.state.db, listener.principal)
    listeners = _connection_listeners(websocket.app, listener)
    try:
        await websocket.accept()
        for each in listeners:
            await each.opened(listener.principal.user_id)
        async with anyio.create_task_group() as tasks:

            async def pump() -> None:
                await _pump(websocket, hub, subscription, gate)
                tasks.cancel_scope.cancel()

            async def listen() -> None:
                await _listen(websocket, hub, subscription, gate, listener)
                tasks.cancel_scope.cancel()

            tasks.start_soon(pump)
            tasks.start_soon(listen)
    finally:
        # Shielded: a cancelled connection must still take its presence with it.
        with anyio.CancelScope(shield=True):
            await hub.unsubscribe(subscription)
            for each in listeners:
                await each.closed(listener.principal.user_id)


def _connection_listeners(app: Any, listener: Listener) -> list[Any]:
    """Who wants to know that an agent has the app open (chat availability); API-token
    clients (integrations) are not a person at a screen."""
    if listener.principal.via_token:
        return []
    return list(getattr(app.state, "connection_listeners", ()))


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    # Accept, then close with a 44xx code: a refusal before accept reaches browsers
    # as a bare 1006, and the client could not tell "log in" from "retry".
    await websocket.accept()
    await websocket.close(code=code, reason=reason)


async def _current_presence(hub: Hub, gate: Gate) -> list[dict[str, Any]]:
    """Who views what right now, as far as this client may see.

    Taken after subscribing, so any change it misses is queued behind it.
    """
    try:
        frames = await hub.current_presence()
    except Exception:  # presence is a nicety: a Redis hiccup must not refuse the connection
        log.exception("could not read the current presence for a new realtime client")
        return []
    return [frame for frame in frames if await gate.allows(frame)]


async def _pump(websocket: WebSocket, hub: Hub, subscription: Subscription, gate: Gate) -> None:
    """Hub → client, in order: the current presence, then the queue. Replies to the
    client's own frames travel the same queue."""
    try:
        for frame in await _current_presence(hub, gate):
            await websocket.send_text(_encode(frame))
        async for frame in subscription:
            if await gate.allows(frame):
                await websocket.send_text(_encode(frame))
    except Exception:  # the client went away mid-send
        return
    code, reason = (1013, "too far behind; reconnect") if subscription.reason == "slow" else (1012, "restarting")
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=reason)


async def _listen(
    websocket: WebSocket, hub: Hub, subscription: Subscription, gate: Gate, listener: Listener
) -> None:
    """Client → hub, until the client disconnects."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None:
            raw = (message.get("bytes") or b"").decode("utf-8", errors="replace")
        error = await _handle(raw, hub, subscription, gate, listener)
        if error is not None:
            subscription.offer({"type": "error", "error": error})


async def _handle(raw: str, hub: Hub, subscription: Subscription, gate: Gate, listener: Listener) -> str | None:
    """Apply one client frame; returns an error message for the client, or None."""
    if len(raw) > _MAX_FRAME_CHARS:
        return "frame too large"
    try:
        frame = json.loads(raw)
    except ValueError:
        return "frames must be JSON"
    if not isinstance(frame, dict):
        return "frames must be JSON objects"
    kind = frame.get("type")
    if kind == "ping":
        await hub.heartbeat(subscription.id)
        subscription.offer({"type": "pong"})
        return None
    if kind not in ("view", "leave", "typing"):
        return f"unknown frame type {kind!r}"
    conversation_id = frame.get("conversation_id")
    if isinstance(conversation_id, bool) or not isinstance(conversation_id, int) or conversation_id <= 0:
        return "conversation_id must be a positive integer"
    if kind == "leave":
        await hub.leave(subscription.id, conversation_id=conversation_id)
        return None
    if not await gate.can_see(conversation_id):
        return f"conversation {conversation_id} does not exist"
    if kind == "view":
        announced = await hub.view(subscription.id, conversation_id=conversation_id, viewer=listener.viewer)
        if not announced:  # already viewing: answer this client alone
            subscription.offer(presence_frame(conversation_id, await hub.viewers(conversation_id)))
        return None
    typing = frame.get("typing")
    if not isinstance(typing, bool):
        return "typing must be true or false"
    await hub.typing(subscription.id, conversation_id=conversation_id, viewer=listener.viewer, typing=typing)
    return None


# --- Server-sent events -------------------------------------------------------------------------


@router.get(
    "/realtime/events",
    response_class=StreamingResponse,
    summary="Live events as server-sent events",
    description="The WebSocket's server→client frames as `data:` lines, for clients that cannot use "
    "WebSocket. Authenticate with the session cookie, a bearer token or `?token=`.",
)
async def realtime_events(request: Request) -> StreamingResponse:
    token = _query_or_bearer_token(request.headers, request.query_params)
    listener = await run_in_threadpool(
        authenticate, request.app.state.db, session_data=request.scope.get("session") or {}, token=token
    )
    if listener is None:
        raise Unauthorized("Authentication required: log in, or pass a bearer token or ?token=.")
    hub: Hub = request.app.state.hub
    subscription = hub.subscribe()
    gate = Gate(request.app.state.db, listener.principal)
    return StreamingResponse(
        _sse(hub, subscription, gate, _connection_listeners(request.app, listener), listener.principal.user_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(hub: Hub, subscription: Subscription, gate: Gate, listeners: list[Any], user_id: int) -> Any:
    try:
        for each in listeners:
            await each.opened(user_id)
        yield "retry: 3000\n\n"
        for frame in await _current_presence(hub, gate):
            yield f"data: {_encode(frame)}\n\n"
        while True:
            try:
                frame = await asyncio.wait_for(subscription.get(), SSE_KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keepalive\n\n"  # keeps proxies from closing an idle stream
                continue
            except SubscriptionClosed:
                return
            if not await gate.allows(frame):
                continue
            event_id = frame["event"].get("id") if frame.get("type") == "event" else None
            prefix = f"id: {event_id}\n" if event_id is not None else ""
            yield f"{prefix}data: {_encode(frame)}\n\n"
    finally:
        with anyio.CancelScope(shield=True):
            await hub.unsubscribe(subscription)
            for each in listeners:
                await each.closed(user_id)
