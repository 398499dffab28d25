"""The widget's WebSocket, ``/widget/ws?token=<visitor token>&after=<seq>``.

Protocol (JSON text frames):

server → client
  {"type": "hello", "conversation_id": N|null, "visitor": {...}, "agent_read_seq": N, "visitor_read_seq": N}
  {"type": "message", "seq": N, "id": N, "author": "visitor"|"agent"|"system", "name": .., "body": ..,
   "at": iso, "client_id": ..|null, "via": "chat"|"email", "attachments": [...]}
                                  every log entry after ``after``, in seq order, then live ones
  {"type": "synced", "seq": N}    the client has everything up to N
  {"type": "ack", "client_id": .., "seq": N, "id": N, "duplicate": bool}
  {"type": "typing", "typing": bool, "name": ..}    an agent is (not) typing
  {"type": "read", "by": "agent", "seq": N}         the agents have read up to N
  {"type": "error", "code": .., "message": .., "client_id": ..}
  {"type": "pong"}

client → server
  {"type": "message", "client_id": "<unique per message>", "body": "..", "attachment_ids": [..]}
  {"type": "typing", "typing": bool}    {"type": "read", "seq": N}
  {"type": "page", "url": .., "title": ..}    {"type": "ping"}

Resending a message with the same ``client_id`` (after a reconnect) stores it once
and is acked with ``duplicate: true``. Reconnecting with ``after`` = the last seq seen
replays exactly what was missed.

Limits, per connection: frames up to 16 KB (larger: close 1009); messages 1/s with a
burst of 10, other frames 10/s with a burst of 30 (over: an error frame, or dropped;
persistent flooding: close 1008); 5 sockets per visitor per process (4429). Close
codes: 4401 bad visitor token, 1013 the client stopped reading, 1012 restart.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

import anyio
from fastapi import WebSocket
from starlette.concurrency import run_in_threadpool

from cartdesk.channels.chat import service as chat_service
from cartdesk.channels.chat.identity import VisitorTokens
from cartdesk.channels.chat.live import ChatRelay, WidgetConnection
from cartdesk.kit.errors import AppError
from cartdesk.realtime.hub import Hub

log = logging.getLogger(__name__)

MAX_FRAME_CHARS = 16 * 1024
MAX_SOCKETS_PER_VISITOR = 5
MAX_STRIKES = 50  # frames refused for rate before the socket is closed


class TokenBucket:
    """``rate`` tokens a second, up to ``burst``; monotonic clock."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def relay_of(websocket: WebSocket) -> ChatRelay:
    state = websocket.app.state
    relay = getattr(state, "chat_relay", None)
    if relay is None:
        relay = state.chat_relay = ChatRelay(state.hub, state.db)
    relay.ensure_started()
    return relay


def tokens_of(app: Any) -> VisitorTokens:
    tokens = getattr(app.state, "chat_tokens", None)
    if tokens is None:
        tokens = app.state.chat_tokens = VisitorTokens(app.state.settings.resolved_secret_key())
    return tokens


def _open(database: Any, tokens: VisitorTokens, token: str | None) -> dict[str, Any] | None:
    with database.transaction() as session:
        claim = tokens.read(token)
        visitor = chat_service.get_visitor(session, public_id=claim.public_id, brand_id=claim.brand_id) \
            if claim else None
        if visitor is None:
            return None
        chat_service.touch(session, visitor_ids=[visitor.id])
        return {
            "visitor_id": visitor.id,
            "public_id": visitor.public_id,
            "name": visitor.name or "Visitor",
            "conversation_id": visitor.conversation_id,
            "hello": {
                "type": "hello",
                "conversation_id": visitor.conversation_id,
                "visitor": {"name": visitor.name, "email": visitor.email, "verified": visitor.verified},
                "agent_read_seq": visitor.agent_read_seq,
                "visitor_read_seq": visitor.visitor_read_seq,
            },
        }


async def widget_socket(websocket: WebSocket) -> None:
    app = websocket.app
    token = websocket.query_params.get("token")
    try:
        after = max(0, int(websocket.query_params.get("after") or 0))
    except ValueError:
        after = 0
    opened = await run_in_threadpool(_open, app.state.db, tokens_of(app), token)
    await websocket.accept()
    if opened is None:
        await websocket.close(code=4401, reason="invalid visitor token")
        return
    relay = relay_of(websocket)
    if len(relay.connections_of(opened["visitor_id"])) >= MAX_SOCKETS_PER_VISITOR:
        await websocket.close(code=4429, reason="too many connections for this visitor")
        return
    connection = WidgetConnection(
        send=websocket.send_text, close=lambda code, reason: websocket.close(code=code, reason=reason),
        relay=relay, visitor_id=opened["visitor_id"], visitor_name=opened["name"],
        conversation_id=opened["conversation_id"], cursor=after,
    )
    hub: Hub = app.state.hub
    relay.add(connection)
    try:
        await connection.send(opened["hello"])
        if connection.conversation_id is not None:
            await hub.view(connection.id, conversation_id=connection.conversation_id, viewer=connection.viewer)
        connection.wake()
        await _listen(websocket, connection, hub)
    finally:
        # Shielded: a cancelled connection must still take its presence with it and mark the
        # visitor away, or a reply would wait in a widget nobody is looking at instead of emailing.
        with anyio.CancelScope(shield=True):
            await connection.finish()
            last = relay.remove(connection)
            with contextlib.suppress(Exception):
                await hub.disconnect(connection.id)
            if last:
                with contextlib.suppress(Exception):
                    await run_in_threadpool(_disconnected, app.state.db, connection.visitor_id)


def _disconnected(database: Any, visitor_id: int) -> None:
    with database.transaction() as session:
        chat_service.disconnected(session, visitor_id=visitor_id)


async def _listen(websocket: WebSocket, connection: WidgetConnection, hub: Hub) -> None:
    messages, control = TokenBucket(1.0, 10), TokenBucket(10.0, 30)
    strikes = 0
    while not connection.closed:
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            return
        raw = received.get("text")
        if raw is None:
            raw = (received.get("bytes") or b"").decode("utf-8", errors="replace")
        if len(raw) > MAX_FRAME_CHARS:
            await connection.close(1009, f"frame too large (max {MAX_FRAME_CHARS} bytes)")
            return
        try:
            frame = json.loads(raw)
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            strikes += 1
            await connection.send({"type": "error", "code": "bad_frame", "message": "frames must be JSON objects"})
        elif frame.get("type") == "message":
            if messages.take():
                await _message(websocket, connection, hub, frame)
            else:
                strikes += 1
                await connection.send({"type": "error", "code": "rate_limited", "client_id": frame.get("client_id"),
                                       "message": "Slow down: too many messages. Resend it in a moment."})
        elif control.take():
            await _control(websocket, connection, hub, frame)
        else:
            strikes += 1  # typing/read/page floods are dropped silently
        if strikes >= MAX_STRIKES:
            await connection.close(1008, "rate limit exceeded")
            return


async def _message(websocket: WebSocket, connection: WidgetConnection, hub: Hub, frame: dict[str, Any]) -> None:
    client_id = frame.get("client_id")
    body = frame.get("body")
    ids = frame.get("attachment_ids") or []
    if not isinstance(client_id, str) or not isinstance(body, str) or not isinstance(ids, list) \
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        await connection.send({"type": "error", "code": "bad_frame", "client_id": client_id if isinstance(
            client_id, str) else None, "message": "a message needs a string client_id and body"})
        return
    connection.begin_post()
    try:
        await _post_and_deliver(websocket, connection, hub, client_id, body, ids)
    finally:
        connection.end_post()


async def _post_and_deliver(websocket: WebSocket, connection: WidgetConnection, hub: Hub, client_id: str,
                            body: str, ids: list[int]) -> None:
    try:
        result = await run_in_threadpool(_post, websocket.app.state.db, connection.visitor_id, client_id, body, ids,
                                         connection.cursor)
    except AppError as exc:
        await connection.send({"type": "error", "code": exc.code, "message": exc.message, "client_id": client_id})
        return
    renamed = result["name"] != connection.viewer.name
    if renamed and connection.conversation_id is not None:  # the pre-chat form gave a name: agents see it
        await hub.leave(connection.id, conversation_id=connection.conversation_id)
    if renamed:
        connection.rename(result["name"])
    if renamed or result["conversation_id"] != connection.conversation_id:
        connection.relay.bind(connection, result["conversation_id"])
        await hub.view(connection.id, conversation_id=result["conversation_id"], viewer=connection.viewer)
    await connection.send({"type": "ack", "client_id": client_id, "seq": result["seq"], "id": result["id"],
                           "duplicate": result["duplicate"]})
    await connection.deliver(result["frames"])


def _post(database: Any, visitor_id: int, client_id: str, body: str, attachment_ids: list[int],
          after: int) -> dict[str, Any]:
    with database.transaction() as session:
        visitor = session.get_one(chat_service.ChatVisitor, visitor_id)
        posted = chat_service.post_message(session, visitor=visitor, client_id=client_id, body=body,
                                           attachment_ids=attachment_ids)
        # What the socket has not shown yet, this message included, read in the same transaction
        # (the visitor row is locked, so nothing of theirs commits in between).
        frames = chat_service.unseen_after_post(session, visitor_id=visitor_id, after=after, posted=posted)
        return {"seq": posted.seq, "id": posted.message.id, "duplicate": posted.duplicate,
                "conversation_id": posted.message.conversation_id, "name": visitor.name or "Visitor",
                "frames": frames}


async def _control(websocket: WebSocket, connection: WidgetConnection, hub: Hub, frame: dict[str, Any]) -> None:
    kind = frame.get("type")
    if kind == "ping":
        await hub.heartbeat(connection.id)
        await connection.send({"type": "pong"})
    elif kind == "typing":
        if connection.conversation_id is not None and isinstance(frame.get("typing"), bool):
            await hub.typing(connection.id, conversation_id=connection.conversation_id,
                             viewer=connection.viewer, typing=frame["typing"])
    elif kind == "read":
        seq = frame.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0:
            await run_in_threadpool(_read, websocket.app.state.db, connection.visitor_id, seq)
    elif kind == "page":
        url, title = frame.get("url"), frame.get("title")
        if isinstance(url, str) and (title is None or isinstance(title, str)):
            await run_in_threadpool(_page, websocket.app.state.db, connection.visitor_id, url, title)
    else:
        await connection.send({"type": "error", "code": "bad_frame", "message": f"unknown frame type {kind!r}"})


def _read(database: Any, visitor_id: int, seq: int) -> None:
    with database.transaction() as session:
        visitor = session.get_one(chat_service.ChatVisitor, visitor_id)
        chat_service.mark_read(session, visitor=visitor, by="visitor", seq=seq)


def _page(database: Any, visitor_id: int, url: str, title: str | None) -> None:
    with database.transaction() as session:
        visitor = session.get_one(chat_service.ChatVisitor, visitor_id)
        chat_service.update_page(session, visitor=visitor, url=url, title=title)
