"""The widget's HTTP API (``/widget/api/...``), its WebSocket (``/widget/ws``), and the
admin API for a brand's widget settings.

The widget runs on the store's own site, so these endpoints answer cross-origin
requests (``Access-Control-Allow-Origin: *``): they are authenticated by the visitor
token in an ``Authorization: Bearer`` header, never by cookies, so there is nothing
ambient for another site to borrow.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, status
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cartdesk.auth.deps import AdminPrincipal, ConversationsRead, ConversationsWrite
from cartdesk.brands import service as brands_service
from cartdesk.channels.chat import service as chat_service
from cartdesk.channels.chat import uploads
from cartdesk.channels.chat.agents import AgentConnections
from cartdesk.channels.chat.dispatch import RoutingTrigger
from cartdesk.channels.chat.models import ChatVisitor
from cartdesk.channels.chat.schemas import IdentifyIn, SessionIn, WidgetSettingsUpdate
from cartdesk.channels.chat.socket import tokens_of, widget_socket
from cartdesk.conversations import service as conversations_service
from cartdesk.db.deps import DbSession
from cartdesk.db.engine import Database
from cartdesk.kit.errors import NotFound, RateLimited, ValidationFailed
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router

# Short, CPU-bound database work runs on the event loop (async def), as the conversation
# API does (docs/architecture.md): sync routes would hand each request to the thread pool.
router = Router(prefix="/widget/api", tags=["chat widget"], responses=error_responses(401, 422))
admin = Router(prefix="/api/v1/brands", tags=["chat widget"], responses=error_responses(401, 403, 404, 422))
agents = Router(prefix="/api/v1/chat", tags=["chat"], responses=error_responses(401, 403, 404, 422))


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def current_visitor(request: Request, session: DbSession) -> ChatVisitor:
    return chat_service.visitor_from_token(session, tokens=tokens_of(request.app), token=_bearer(request))


Visitor = Annotated[ChatVisitor, Depends(current_visitor)]


def _visitor_view(visitor: ChatVisitor) -> dict[str, Any]:
    return {"name": visitor.name, "email": visitor.email, "verified": visitor.verified,
            "conversation_id": visitor.conversation_id}


@router.get("/config", summary="The brand's widget settings and whether anyone is online")
async def widget_config(session: DbSession, brand: str) -> dict[str, Any]:
    return chat_service.public_config(session, brand=brands_service.resolve(session, ref=brand))


class NewSessionThrottle:
    """At most ``limit`` new visitors per client address per minute (in this process), so a
    script cannot fill the visitor table; resuming with a valid token is never limited."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[str, deque[float]] = {}

    def check(self, address: str) -> None:
        now = time.monotonic()
        times = self._seen.setdefault(address, deque())
        while times and times[0] <= now - 60:
            times.popleft()
        if len(times) >= self.limit:
            raise RateLimited("Too many new chat sessions from this address; try again in a minute.",
                              details={"retry_after_seconds": int(times[0] + 60 - now) + 1})
        times.append(now)
        if len(self._seen) > 10_000:  # keep memory bounded: forget addresses that went quiet
            self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - 60}


def _throttle(request: Request) -> NewSessionThrottle:
    state = request.app.state
    if getattr(state, "chat_session_throttle", None) is None:
        state.chat_session_throttle = NewSessionThrottle(state.settings.chat_sessions_per_ip_per_minute)
    return state.chat_session_throttle


@router.post("/session", summary="Start or resume a visitor session", responses=error_responses(429))
async def start_session(request: Request, session: DbSession, session_in: SessionIn) -> dict[str, Any]:
    """Give back the token the browser kept (or none, for a new visitor). With `user`, the
    store vouches for a logged-in shopper (HMAC of the user id or email with the brand's
    identity secret) and the visitor lands on that customer. A forged token is a 401; too
    many new visitors from one address in a minute is a 429."""
    if session_in.token is None:
        _throttle(request).check(request.client.host if request.client else "unknown")
    brand = brands_service.resolve(session, ref=session_in.brand)
    visitor, token = chat_service.start_session(
        session, tokens=tokens_of(request.app), brand=brand, token=session_in.token, user=session_in.user,
        url=session_in.url, title=session_in.title, user_agent=request.headers.get("user-agent"),
    )
    return {"token": token, "visitor": _visitor_view(visitor),
            "config": chat_service.public_config(session, brand=brand)}


@router.post("/identify", summary="The visitor gives an email (pre-chat or offline form)")
async def identify(session: DbSession, visitor: Visitor, identify_in: IdentifyIn) -> dict[str, Any]:
    if identify_in.email:
        chat_service.identify(session, visitor=visitor, email=str(identify_in.email), name=identify_in.name)
    elif identify_in.name and identify_in.name.strip():
        chat_service.set_name(session, visitor=visitor, name=identify_in.name)
    else:
        raise ValidationFailed("Give a name or an email.", details=[{"field": "email"}])
    return {"visitor": _visitor_view(visitor)}


@router.post("/transcript", status_code=status.HTTP_202_ACCEPTED, summary="Email the chat transcript")
async def transcript(session: DbSession, visitor: Visitor) -> dict[str, Any]:
    message = chat_service.send_transcript(session, visitor=visitor)
    return {"message_id": message.id, "email": visitor.email}


@router.post("/attachments", status_code=status.HTTP_201_CREATED, summary="Upload an image or PDF",
             responses=error_responses(413, 415))
async def upload(request: Request) -> dict[str, Any]:
    """One file (multipart field `file`): PNG, JPEG, GIF, WebP or PDF, checked by content, up
    to the widget limit (10 MB). Send its `id` in a message frame's `attachment_ids`."""
    return await uploads.receive(request, token=_bearer(request))


@router.get("/attachments/{attachment_id}", response_class=StreamingResponse, summary="Download a chat file")
async def download(attachment_id: int, request: Request, token: str | None = None) -> StreamingResponse:
    """For `<img src>`, so the visitor token may come as `?token=`."""
    return await uploads.download(request, attachment_id=attachment_id, token=_bearer(request) or token)


# --- admin: a brand's widget settings ---------------------------------------------------------

def _settings_view(session: Session, brand_id: int, *, with_secret: bool) -> dict[str, Any]:
    row = chat_service.widget_settings(session, brand_id=brand_id)
    view = {k: getattr(row, k) for k in ("enabled", "color", "greeting", "offline_message", "position",
                                         "reply_time", "business_hours", "prechat_name", "prechat_email",
                                         "routing", "routing_team_id", "max_chats_per_agent")}
    if with_secret:
        view["identity_secret"] = row.identity_secret
    return view


@admin.get("/{brand}/chat-widget", summary="A brand's chat widget settings (with the identity secret)")
async def get_widget_settings(session: DbSession, principal: AdminPrincipal, brand: str) -> dict[str, Any]:
    """Colours, greeting, position, business hours, and the identity secret the store signs
    verified shoppers with (created on first read). Admins only."""
    found = brands_service.resolve(session, ref=brand)
    chat_service.identity_secret(session, actor=principal.actor, brand=found)
    return _settings_view(session, found.id, with_secret=True)


@admin.patch("/{brand}/chat-widget", summary="Change a brand's chat widget")
async def patch_widget_settings(
    session: DbSession, principal: AdminPrincipal, brand: str, settings_in: WidgetSettingsUpdate
) -> dict[str, Any]:
    """Change any of the settings; business hours are `{"mon": [["09:00", "17:00"]], ...}` in the
    brand's time zone (empty: always open). Routing: `routing` (on/off), `routing_team_id` (the
    chat team; null: any agent), `max_chats_per_agent` (1-50 active chats each). Admins only."""
    found = brands_service.resolve(session, ref=brand)
    chat_service.update_widget_settings(session, actor=principal.actor, brand=found, settings_in=settings_in)
    return _settings_view(session, found.id, with_secret=True)


# --- agents ------------------------------------------------------------------------------------

@agents.post("/conversations/{conversation_id}/read", summary="The agents have read the chat so far")
async def agent_read(session: DbSession, principal: ConversationsWrite, conversation_id: int) -> dict[str, Any]:
    """Moves the agents' read receipt to the newest message; the widget shows it as "Seen"."""
    conversation = conversations_service.get_or_raise(session, conversation_id=conversation_id, principal=principal)
    visitor = chat_service.visitor_for_conversation(session, conversation_id=conversation.id)
    if visitor is None:
        raise NotFound(f"Conversation {conversation_id} is not a live chat.", details={"id": conversation_id})
    chat_service.mark_read(session, visitor=visitor, by="agent", actor=principal.actor)
    return {"agent_read_seq": visitor.agent_read_seq, "visitor_read_seq": visitor.visitor_read_seq}


@agents.get("/agents", summary="Every agent's chat availability")
async def agents_availability(session: DbSession, principal: ConversationsRead) -> dict[str, Any]:
    """online / away / offline as others see it: an agent set online whose agent app has been
    closed for longer than the grace period shows as away."""
    shown = chat_service.agent_availability(session)
    return {"items": [{"id": uid, "availability": value} for uid, value in shown.items()]}


@agents.get("/agents/online", summary="Agents available for chats (for routing)")
async def agents_online(session: DbSession, principal: ConversationsRead, team_id: int | None = None) -> dict[str, Any]:
    """Active agents whose availability is online, optionally of one team: who can take a chat now."""
    users = chat_service.online_agents(session, team_id=team_id)
    return {"items": [{"id": u.id, "name": u.name, "availability": str(u.availability)} for u in users]}


# --- wiring ------------------------------------------------------------------------------------

class WidgetCORS:
    """Cross-origin access to ``/widget/api``: preflights answered, every response marked."""

    HEADERS = [(b"access-control-allow-origin", b"*"), (b"access-control-max-age", b"600"),
               (b"access-control-allow-headers", b"authorization, content-type"),
               (b"access-control-allow-methods", b"GET, POST, OPTIONS")]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/widget/api/"):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": self.HEADERS})
            await send({"type": "http.response.body", "body": b""})
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.HEADERS]}
            await send(message)

        await self.app(scope, receive, marked)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(admin)
    app.include_router(agents)
    app.add_api_websocket_route("/widget/ws", widget_socket)
    app.state.chat_routing = RoutingTrigger(app.state.db)
    app.state.connection_listeners = [*getattr(app.state, "connection_listeners", ()),
                                      AgentConnections(app.state.db, trigger=app.state.chat_routing)]
    _add_event_sink(app.state.db, app.state.chat_routing)
    app.add_middleware(WidgetCORS)


def _add_event_sink(database: Database, trigger: RoutingTrigger) -> None:
    # Beside the realtime hub's sink that create_app installed (configure_info replaces the
    # list, so read it first); a trigger from an earlier app on the same database is dropped.
    info = database.sessionmaker.kw.get("info") or {}
    sinks = [s for s in info.get("event_sinks", ()) if not isinstance(getattr(s, "__self__", None), RoutingTrigger)]
    database.configure_info(event_sinks=[*sinks, trigger.on_events])
