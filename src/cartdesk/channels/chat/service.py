"""The rules of live chat: widget settings, visitors and their identity, messages, the
chat log the widget replays, read receipts, and who is online.

Services flush and never commit; every state change writes an event, and what the
widget or the agents must hear leaves through those events after commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Availability, User
from cartdesk.brands.models import Brand
from cartdesk.channels.chat.identity import VisitorTokens, new_identity_secret, new_public_id, verify_identity
from cartdesk.channels.chat.models import (
    ChatAgentSeen,
    ChatLogEntry,
    ChatUpload,
    ChatVisitor,
    ChatWidgetSettings,
)
from cartdesk.channels.chat.schemas import VerifiedUser, WidgetSettingsUpdate
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Attachment, AuthorType, Conversation, Direction, Message, Status
from cartdesk.conversations.schemas import ConversationCreate
from cartdesk.customers import service as customers_service
from cartdesk.customers.models import Customer, IdentityKind
from cartdesk.events import service as events_service
from cartdesk.events.schemas import SYSTEM, Actor
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import NotFound, Unauthorized, ValidationFailed

CHANNEL = "chat"
MAX_BODY_CHARS = 5000
# A visitor counts as reachable in the widget while its connection refreshed last_seen_at
# this recently (connections are touched every 30 s); otherwise replies go by email.
LIVE_WINDOW = timedelta(seconds=75)
# Agents: seen every AGENT_TOUCH_SECONDS while the app is open; away once not seen for the window.
AGENT_LIVE_WINDOW = timedelta(seconds=75)
AGENT_AWAY_GRACE = timedelta(seconds=45)
# After the last connection closes the visitor stays "live" this long, so a page switch
# (close, reload, reconnect within a second or two) does not send the reply by email.
DISCONNECT_GRACE = timedelta(seconds=10)
NULLABLE_SETTINGS = frozenset({"routing_team_id"})
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- widget settings ----------------------------------------------------------------------

def widget_settings(session: Session, *, brand_id: int) -> ChatWidgetSettings:
    """The brand's settings; an unsaved row with the defaults when none were saved."""
    row = session.scalar(select(ChatWidgetSettings).where(ChatWidgetSettings.brand_id == brand_id))
    if row is not None:
        return row
    defaults = {c.name: c.default.arg for c in ChatWidgetSettings.__table__.columns
                if c.default is not None and not callable(c.default.arg)}
    return ChatWidgetSettings(brand_id=brand_id, business_hours={}, **defaults)


def update_widget_settings(
    session: Session, *, actor: Actor, brand: Brand, settings_in: WidgetSettingsUpdate
) -> ChatWidgetSettings:
    changes = {k: v for k, v in settings_in.model_dump(exclude_unset=True).items()
               if v is not None or k in NULLABLE_SETTINGS}
    if changes.get("routing_team_id") is not None:
        auth_service.get_team_or_raise(session, team_id=changes["routing_team_id"])
    row = widget_settings(session, brand_id=brand.id)
    if row.id is None:
        row.identity_secret = new_identity_secret()
        session.add(row)
    if "business_hours" in changes:
        changes["business_hours"] = {day: [list(span) for span in spans]
                                     for day, spans in changes["business_hours"].items()}
    before = {k: getattr(row, k) for k in changes}
    for key, value in changes.items():
        setattr(row, key, value)
    session.flush()
    events_service.record(session, verb="chat.settings_updated", actor=actor, subject_type="brand",
                          subject_id=brand.id, brand_id=brand.id, data=events_service.diff(before, changes))
    return row


def identity_secret(session: Session, *, actor: Actor, brand: Brand) -> str:
    """The brand's verified-identity secret, created on first use (shown to admins only)."""
    row = widget_settings(session, brand_id=brand.id)
    if row.id is None:
        row = update_widget_settings(session, actor=actor, brand=brand, settings_in=WidgetSettingsUpdate())
    assert row.identity_secret
    return row.identity_secret


def regenerate_identity_secret(session: Session, *, actor: Actor, brand: Brand) -> str:
    """A new verified-identity secret: hashes signed with the old one stop verifying at once."""
    row = widget_settings(session, brand_id=brand.id)
    if row.id is None:
        row = update_widget_settings(session, actor=actor, brand=brand, settings_in=WidgetSettingsUpdate())
    row.identity_secret = new_identity_secret()
    session.flush()
    events_service.record(session, verb="chat.identity_secret_regenerated", actor=actor, subject_type="brand",
                          subject_id=brand.id, brand_id=brand.id, data={})
    return row.identity_secret


def is_open(settings: ChatWidgetSettings, *, timezone: str, now: datetime | None = None) -> bool:
    """Inside business hours (in the brand's time zone)? No hours set means always."""
    hours = settings.business_hours or {}
    if not hours:
        return True
    from zoneinfo import ZoneInfo

    try:
        local = (now or utcnow()).astimezone(ZoneInfo(timezone))
    except (KeyError, ValueError):
        local = now or utcnow()
    hhmm = local.strftime("%H:%M")
    return any(start <= hhmm < end for start, end in hours.get(WEEKDAYS[local.weekday()], []))


# --- agents ----------------------------------------------------------------------------

def agents_seen(session: Session, *, user_ids: Iterable[int], at: datetime | None = None) -> None:
    """Agents with the app open right now (one upsert for a process's connections). A liveness
    heartbeat like realtime presence, so no event row."""
    rows = [{"user_id": uid, "seen_at": at or utcnow()} for uid in sorted(set(user_ids))]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(ChatAgentSeen).values(rows)
    session.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_={"seen_at": stmt.excluded.seen_at}))


def agent_left(session: Session, *, user_id: int, now: datetime | None = None) -> None:
    """The agent's last connection here closed: still online for ``AGENT_AWAY_GRACE`` (a reload,
    a flaky network), then away."""
    agents_seen(session, user_ids=[user_id], at=(now or utcnow()) - AGENT_LIVE_WINDOW + AGENT_AWAY_GRACE)


def _seen_since(now: datetime | None) -> Any:
    return select(ChatAgentSeen.user_id).where(ChatAgentSeen.seen_at > (now or utcnow()) - AGENT_LIVE_WINDOW)


def agent_availability(session: Session, *, now: datetime | None = None) -> dict[int, str]:
    """Every active agent's availability as others should see it: "online" only while the
    agent app is open somewhere; an agent who set online and left shows as away."""
    seen = set(session.scalars(_seen_since(now)))
    users = session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.id))
    return {u.id: "away" if u.availability == Availability.online and u.id not in seen else str(u.availability)
            for u in users}


def online_agents(session: Session, *, team_id: int | None = None, now: datetime | None = None) -> Sequence[User]:
    """Active agents who set themselves online and have the app open: who routing may hand a chat to."""
    stmt = select(User).where(User.is_active.is_(True), User.availability == Availability.online,
                              User.id.in_(_seen_since(now)))
    if team_id is not None:
        stmt = stmt.where(User.teams.any(id=team_id))
    return session.scalars(stmt.order_by(User.id)).all()


def public_config(session: Session, *, brand: Brand, now: datetime | None = None) -> dict[str, Any]:
    """What the widget may know about the brand (never the identity secret)."""
    settings = widget_settings(session, brand_id=brand.id)
    in_hours = is_open(settings, timezone=brand.timezone, now=now)
    online = in_hours and bool(online_agents(session, now=now))
    return {
        "brand": {"slug": brand.slug, "name": brand.name},
        "enabled": settings.enabled,
        "color": settings.color,
        "greeting": settings.greeting,
        "offline_message": settings.offline_message,
        "position": settings.position,
        "reply_time": settings.reply_time,
        "prechat": {"name": settings.prechat_name, "email": settings.prechat_email},
        "business_hours": settings.business_hours or {},
        "timezone": brand.timezone,
        "in_business_hours": in_hours,
        "online": online,
    }


# --- visitors ----------------------------------------------------------------------------

def get_visitor(session: Session, *, public_id: str, brand_id: int) -> ChatVisitor | None:
    return session.scalar(
        select(ChatVisitor).where(ChatVisitor.public_id == public_id, ChatVisitor.brand_id == brand_id)
    )


def visitor_from_token(session: Session, *, tokens: VisitorTokens, token: str | None) -> ChatVisitor:
    claim = tokens.read(token)
    visitor = get_visitor(session, public_id=claim.public_id, brand_id=claim.brand_id) if claim else None
    if visitor is None:
        raise Unauthorized("The visitor token is missing, forged or unknown; start a new chat session.",
                           code="invalid_visitor_token")
    return visitor


def start_session(
    session: Session,
    *,
    tokens: VisitorTokens,
    brand: Brand,
    token: str | None,
    user: VerifiedUser | None = None,
    url: str | None = None,
    title: str | None = None,
    user_agent: str | None = None,
) -> tuple[ChatVisitor, str]:
    """The visitor behind ``token``, or a new one; a verified user lands on their customer."""
    visitor = None
    if token is not None:
        visitor = visitor_from_token(session, tokens=tokens, token=token)
        if visitor.brand_id != brand.id:
            raise Unauthorized("This visitor token belongs to another brand.", code="invalid_visitor_token")
    if visitor is None:
        visitor = ChatVisitor(public_id=new_public_id(), brand_id=brand.id, verified=False,
                              visitor_read_seq=0, agent_read_seq=0)
        session.add(visitor)
        session.flush()
        events_service.record(session, verb="chat.visitor_started", actor=SYSTEM, subject_type="chat_visitor",
                              subject_id=visitor.id, brand_id=brand.id, data={})
    visitor.current_url, visitor.page_title = url or visitor.current_url, title or visitor.page_title
    visitor.user_agent = (user_agent or visitor.user_agent or "")[:400] or None
    if user is not None:
        _verified_login(session, visitor=visitor, brand=brand, user=user)
    return visitor, tokens.issue(public_id=visitor.public_id, brand_id=brand.id)


def _verified_login(session: Session, *, visitor: ChatVisitor, brand: Brand, user: VerifiedUser) -> None:
    secret = widget_settings(session, brand_id=brand.id).identity_secret
    value = user.id or (str(user.email) if user.email else "")
    if not verify_identity(secret, value=value, given_hash=user.hash):
        raise Unauthorized("The identity hash does not match; the store must sign the user id (or email) "
                           "with its chat identity secret.", code="invalid_identity_hash")
    if user.id:
        customer, _ = customers_service.get_or_create_by_identity(
            session, actor=SYSTEM, kind=IdentityKind.external, value=f"{brand.slug}:{user.id}", name=user.name)
        if user.email and not customer.email:
            _link_email(session, visitor=visitor, customer=customer, email=str(user.email))
    else:
        customer, _ = customers_service.get_or_create_by_identity(
            session, actor=SYSTEM, kind=IdentityKind.email, value=str(user.email), name=user.name)
    _adopt_customer(session, visitor=visitor, customer=customer)
    visitor.verified = True
    visitor.name = user.name or customer.name or visitor.name
    visitor.email = customer.email or visitor.email


def set_name(session: Session, *, visitor: ChatVisitor, name: str) -> None:
    """The visitor gave only a name (the pre-chat form's email is optional)."""
    visitor.name = name.strip()[:200] or visitor.name
    if visitor.customer_id is not None:
        customer = customers_service.get_or_raise(session, customer_id=visitor.customer_id)
        if not customer.name:
            customer.name = visitor.name
    session.flush()
    events_service.record(session, verb="chat.visitor_named", actor=Actor(type="customer", id=visitor.customer_id,
                          name=visitor.name), subject_type="chat_visitor", subject_id=visitor.id,
                          brand_id=visitor.brand_id, data={"name": visitor.name})


def identify(session: Session, *, visitor: ChatVisitor, email: str, name: str | None = None) -> Customer:
    """A visitor gave an email (pre-chat or offline form): link it to that customer.

    The same email is one customer everywhere, so a later email from this address
    lands in the same history. A visitor that already wrote anonymously is merged
    into the customer who owns the address. The claim is not verified.
    """
    email = customers_service.normalise(IdentityKind.email, email)
    holder = customers_service.find_by_identity(session, kind=IdentityKind.email, value=email)
    actor = Actor(type="customer", id=visitor.customer_id, name=name or visitor.name)
    if holder is None and visitor.customer_id is not None:
        current = customers_service.get_or_raise(session, customer_id=visitor.customer_id)
        customer = _link_email(session, visitor=visitor, customer=current, email=email)
    elif holder is None:
        customer, _ = customers_service.get_or_create_by_identity(
            session, actor=actor, kind=IdentityKind.email, value=email, name=name)
    else:
        customer = holder
    if name and not customer.name:
        customer.name = name
    _adopt_customer(session, visitor=visitor, customer=customer)
    visitor.email, visitor.name = email, name or visitor.name or customer.name
    session.flush()
    events_service.record(session, verb="chat.visitor_identified", actor=actor, subject_type="chat_visitor",
                          subject_id=visitor.id, brand_id=visitor.brand_id,
                          data={"customer_id": customer.id, "email": email})
    return customer


def _link_email(session: Session, *, visitor: ChatVisitor, customer: Customer, email: str) -> Customer:
    from cartdesk.customers.schemas import CustomerUpdate

    actor = Actor(type="customer", id=customer.id, name=customer.display_name)
    return customers_service.update(session, actor=actor, customer=customer, customer_in=CustomerUpdate(email=email))


def _adopt_customer(session: Session, *, visitor: ChatVisitor, customer: Customer) -> None:
    """Point the visitor at ``customer``; an anonymous customer it chatted as is merged in."""
    previous = visitor.customer_id
    if previous is not None and previous != customer.id:
        source = customers_service.get_or_raise(session, customer_id=previous, follow_merge=False)
        if source.merged_into_id is None:
            # What conversations.service.merge_customers does, minus its principal check:
            # here the visitor is proving continuity, not an agent editing customers.
            customers_service.merge(session, actor=SYSTEM, target=customer, source=source)
            session.execute(update(Conversation).where(Conversation.customer_id == source.id)
                            .values(customer_id=customer.id))
            session.execute(update(Message).where(Message.author_customer_id == source.id)
                            .values(author_customer_id=customer.id))
    visitor.customer_id = customer.id
    session.flush()


def _customer_for(session: Session, *, visitor: ChatVisitor) -> Customer:
    if visitor.customer_id is not None:
        return customers_service.get_or_raise(session, customer_id=visitor.customer_id)
    customer, _ = customers_service.get_or_create_by_identity(
        session, actor=SYSTEM, kind=IdentityKind.chat, value=visitor.public_id, name=visitor.name)
    visitor.customer_id = customer.id
    return customer


def update_page(session: Session, *, visitor: ChatVisitor, url: str | None, title: str | None) -> bool:
    """The shopper moved to another page (shown to the agent, live). True when it changed."""
    url, title = (url or "")[:2000] or None, (title or "")[:300] or None
    if not url or url == visitor.current_url:
        return False
    visitor.current_url, visitor.page_title = url, title
    session.flush()
    events_service.record(
        session, verb="chat.page_viewed", actor=Actor(type="customer", id=visitor.customer_id, name=visitor.name),
        subject_type="chat_visitor", subject_id=visitor.id, conversation_id=visitor.conversation_id,
        brand_id=visitor.brand_id, data={"url": url, "title": title},
    )
    return True


def touch(session: Session, *, visitor_ids: Iterable[int], at: datetime | None = None) -> None:
    """Mark connected visitors as seen (one statement for a whole process's connections).
    A liveness heartbeat like realtime presence: no event row."""
    ids = list(visitor_ids)
    if ids:
        session.execute(update(ChatVisitor).where(ChatVisitor.id.in_(ids)).values(last_seen_at=at or utcnow()))


def is_live(visitor: ChatVisitor, *, now: datetime | None = None) -> bool:
    return visitor.last_seen_at is not None and visitor.last_seen_at > (now or utcnow()) - LIVE_WINDOW


def disconnected(session: Session, *, visitor_id: int) -> None:
    """The visitor's last connection here closed: live for a short grace, then away."""
    session.execute(update(ChatVisitor).where(ChatVisitor.id == visitor_id)
                    .values(last_seen_at=utcnow() - LIVE_WINDOW + DISCONNECT_GRACE))


# --- messages and the chat log ------------------------------------------------------------

@dataclass(frozen=True)
class Posted:
    message: Message
    seq: int
    duplicate: bool
    entry: ChatLogEntry | None = None  # the new log row (None for a duplicate)


def _lock_visitor(session: Session, visitor_id: int) -> ChatVisitor:
    # Serialises chat-log writers per visitor, so rows commit in seq order (see ChatLogEntry).
    return session.execute(
        select(ChatVisitor).where(ChatVisitor.id == visitor_id).with_for_update().execution_options(
            populate_existing=True)
    ).scalar_one()


def external_id(visitor: ChatVisitor, client_id: str) -> str:
    return f"{visitor.public_id}:{client_id}"


def check_message(body: str, client_id: str) -> str:
    text = (body or "").strip()
    if not client_id or len(client_id) > 64:
        raise ValidationFailed("client_id must be 1 to 64 characters.", details=[{"field": "client_id"}])
    if len(text) > MAX_BODY_CHARS:
        raise ValidationFailed(f"A chat message is at most {MAX_BODY_CHARS} characters.",
                               details=[{"field": "body"}])
    return text


def post_message(
    session: Session, *, visitor: ChatVisitor, client_id: str, body: str, attachment_ids: Sequence[int] = ()
) -> Posted:
    """The visitor wrote. Idempotent on ``client_id``: a resent frame is answered with the
    message already stored. The first message opens the conversation."""
    text = check_message(body, client_id)
    if not text and not attachment_ids:
        raise ValidationFailed("A message needs text or an attachment.", details=[{"field": "body"}])
    ext = external_id(visitor, client_id)
    # Lock first: a resend racing its original then finds it stored, and the log row below
    # cannot exist yet (log_append's re-lock and lookup are not needed on this path).
    visitor = _lock_visitor(session, visitor.id)
    existing = session.scalar(select(Message).where(Message.channel == CHANNEL, Message.external_id == ext))
    if existing is not None:
        seq = session.scalar(select(ChatLogEntry.seq).where(ChatLogEntry.message_id == existing.id))
        return Posted(message=existing, seq=seq or 0, duplicate=True)
    customer = _customer_for(session, visitor=visitor)
    body_text = text or "(attachment)"
    meta = {"page_url": visitor.current_url} if visitor.current_url else {}
    conversation = conversations_service.get(session, conversation_id=visitor.conversation_id) \
        if visitor.conversation_id else None
    if conversation is not None and conversation.merged_into_id is not None:
        conversation = conversations_service.get(session, conversation_id=conversation.merged_into_id)
    created = conversation is None
    was_waiting = conversation is not None and conversation.status in (Status.new, Status.open)
    # ``known_new``: the duplicate check above already ran, under the visitor's lock.
    if conversation is None:
        conversation, message = conversations_service.open_conversation(
            session, actor=SYSTEM, message_meta=meta, known_new=True, conversation_in=ConversationCreate(
                customer={"id": customer.id}, subject=_subject(text), channel=CHANNEL, brand=visitor.brand_id,
                message={"body": body_text, "external_id": ext},
            ))
    else:
        message = conversations_service.receive_message(
            session, conversation=conversation, customer=customer, body=body_text, channel=CHANNEL,
            external_id=ext, meta=meta, known_new=True)
    # A new conversation: the first message, or a follow-up to a closed chat.
    started = created or message.conversation_id != conversation.id
    visitor.conversation_id = message.conversation_id
    if attachment_ids:
        _attach(session, visitor=visitor, message=message, attachment_ids=attachment_ids)
    else:
        set_committed_value(message, "attachments", [])  # known empty: message_frame needs no query
    entry = _new_entry(session, visitor_id=visitor.id, message=message, via=CHANNEL)
    if started or not was_waiting:
        # New, or reopened by this message. A chat that was already waiting is the queue's to
        # hand out (routing.drain): its further messages cost no routing queries.
        _route(session, conversation_id=message.conversation_id, started=started)
    return Posted(message=message, seq=entry.seq, duplicate=False, entry=entry)


def _route(session: Session, *, conversation_id: int, started: bool) -> None:
    """An unowned chat goes to an agent (channels/chat/routing.py); a new one that finds
    nobody free is marked queued."""
    from cartdesk.channels.chat import routing  # routing builds on this module

    conversation = session.get_one(Conversation, conversation_id)
    if conversation.assignee_id is not None:
        return
    decision = routing.route(session, conversation=conversation)
    if started and decision.assignee_id is None and decision.reason in routing.QUEUED_REASONS:
        routing.queued(session, conversation=conversation, reason=decision.reason)


def _subject(text: str) -> str:
    first = " ".join(text.split())
    return (first[:77] + "…") if len(first) > 78 else (first or "Chat")


def _attach(session: Session, *, visitor: ChatVisitor, message: Message, attachment_ids: Sequence[int]) -> None:
    wanted = list(dict.fromkeys(attachment_ids))
    rows = session.scalars(
        select(Attachment).join(ChatUpload, ChatUpload.attachment_id == Attachment.id)
        .where(Attachment.id.in_(wanted), Attachment.message_id.is_(None), ChatUpload.visitor_id == visitor.id)
    ).all()
    missing = sorted(set(wanted) - {a.id for a in rows})
    if missing:
        raise ValidationFailed("Unknown attachment id(s): each must be your own upload, not yet sent.",
                               details=[{"field": "attachment_ids", "invalid": missing}])
    for attachment in rows:
        attachment.message_id = message.id
    session.flush()
    session.expire(message, ["attachments"])


def log_append(session: Session, *, visitor: ChatVisitor, message: Message, via: str) -> ChatLogEntry:
    """Make a message visible in the visitor's widget (idempotent per message)."""
    _lock_visitor(session, visitor.id)
    existing = session.scalar(select(ChatLogEntry).where(ChatLogEntry.message_id == message.id))
    if existing is not None:
        return existing
    return _new_entry(session, visitor_id=visitor.id, message=message, via=via)


def log_new_message(session: Session, *, visitor: ChatVisitor, message: Message, via: str) -> None:
    """:func:`log_append` for a message saved in this very transaction, which cannot have a
    log row yet: no lookup, and the row goes out with the transaction's next flush."""
    _lock_visitor(session, visitor.id)
    _new_entry(session, visitor_id=visitor.id, message=message, via=via, flush=False)


def _new_entry(session: Session, *, visitor_id: int, message: Message, via: str, flush: bool = True) -> ChatLogEntry:
    # The caller holds the visitor's lock and knows the message has no row yet.
    entry = ChatLogEntry(visitor_id=visitor_id, conversation_id=message.conversation_id, message_id=message.id,
                         via=via, created_at=utcnow())
    session.add(entry)
    if flush:
        session.flush()
    return entry


# The visitor who last wrote in a conversation, else the one it was opened for: one prebuilt
# Core query, run for every chat reply twice (the reply, its delivery), and most chats
# (imported, or opened over the API) have no visitor at all.
_VISITOR_OF_CONVERSATION = select(func.coalesce(
    select(ChatLogEntry.visitor_id).where(ChatLogEntry.conversation_id == bindparam("cid"))
    .order_by(ChatLogEntry.seq.desc()).limit(1).scalar_subquery(),
    select(ChatVisitor.id).where(ChatVisitor.conversation_id == bindparam("cid")).limit(1).scalar_subquery(),
))


def visitor_for_conversation(session: Session, *, conversation_id: int) -> ChatVisitor | None:
    """The widget a conversation talks to: the visitor who last wrote in it."""
    visitor_id = session.connection().execute(_VISITOR_OF_CONVERSATION, {"cid": conversation_id}).scalar()
    return None if visitor_id is None else session.get(ChatVisitor, visitor_id)


_ENTRIES = (
    select(ChatLogEntry, Message)
    .join(Message, Message.id == ChatLogEntry.message_id)
    .options(selectinload(Message.attachments))
)


def entries_since(session: Session, *, visitor_id: int, after: int, limit: int = 200) -> list[dict[str, Any]]:
    """What the widget has not seen yet, oldest first, as wire frames."""
    rows = session.execute(
        _ENTRIES.where(ChatLogEntry.visitor_id == visitor_id, ChatLogEntry.seq > after)
        .order_by(ChatLogEntry.seq).limit(limit)
    ).all()
    return [message_frame(entry, message) for entry, message in rows]


def unseen_after_post(session: Session, *, visitor_id: int, after: int, posted: Posted) -> list[dict[str, Any]]:
    """What a socket at cursor ``after`` has not shown, read in the post's own transaction.
    Usually that is just the posted message, built from the objects in hand: one small query
    instead of the log read (a join, its attachments, the author)."""
    if posted.entry is None or after >= posted.seq:
        return entries_since(session, visitor_id=visitor_id, after=after)
    earlier = session.scalar(select(ChatLogEntry.seq).where(
        ChatLogEntry.visitor_id == visitor_id, ChatLogEntry.seq > after, ChatLogEntry.seq < posted.seq).limit(1))
    if earlier is not None:
        return entries_since(session, visitor_id=visitor_id, after=after)
    return [message_frame(posted.entry, posted.message)]


def message_frame(entry: ChatLogEntry, message: Message) -> dict[str, Any]:
    from_visitor = message.direction == Direction.inbound
    client_id = None
    if from_visitor and message.external_id and ":" in message.external_id:
        client_id = message.external_id.split(":", 1)[1]
    author_name = None
    if message.author_type == AuthorType.agent and message.author_user is not None:
        author_name = message.author_user.name.split()[0]
    return {
        "type": "message",
        "seq": entry.seq,
        "id": message.id,
        "conversation_id": entry.conversation_id,
        "author": "visitor" if from_visitor else str(message.author_type),
        "name": author_name,
        "body": message.body_text,
        "at": message.created_at.isoformat(),
        "client_id": client_id,
        "via": entry.via,
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
                        for a in message.attachments],
    }


def latest_seq(session: Session, *, visitor_id: int, replies_only: bool = False) -> int:
    """The visitor's newest log entry (``replies_only``: the newest one written to the visitor)."""
    stmt = select(func.max(ChatLogEntry.seq)).where(ChatLogEntry.visitor_id == visitor_id)
    if replies_only:
        stmt = stmt.join(Message, Message.id == ChatLogEntry.message_id).where(
            Message.direction == Direction.outbound)
    return session.scalar(stmt) or 0


# --- read receipts -------------------------------------------------------------------------

def mark_read(session: Session, *, visitor: ChatVisitor, by: str, seq: int | None = None,
              actor: Actor | None = None) -> bool:
    """The visitor (or the agents) read up to ``seq`` (default: everything). Returns True when
    that moved the receipt; the event carries it to the other side after commit."""
    latest = latest_seq(session, visitor_id=visitor.id)
    seq = latest if seq is None else min(seq, latest)
    field = "visitor_read_seq" if by == "visitor" else "agent_read_seq"
    if seq <= getattr(visitor, field) or visitor.conversation_id is None:
        return False
    setattr(visitor, field, seq)
    session.flush()
    events_service.record(
        session, verb="chat.read", actor=actor or Actor(type="customer", id=visitor.customer_id, name=visitor.name),
        subject_type="chat_visitor", subject_id=visitor.id, conversation_id=visitor.conversation_id,
        brand_id=visitor.brand_id, data={"by": by, "seq": seq},
    )
    return True


def unread_counts(session: Session, *, conversation_ids: Sequence[int]) -> dict[int, int]:
    """Visitor messages the agents have not read yet, per chat conversation (the inbox badge)."""
    if not conversation_ids:
        return {}
    rows = session.execute(
        select(ChatLogEntry.conversation_id, func.count())
        .join(ChatVisitor, ChatVisitor.id == ChatLogEntry.visitor_id)
        .join(Message, Message.id == ChatLogEntry.message_id)
        .where(ChatLogEntry.conversation_id.in_(list(conversation_ids)),
               ChatLogEntry.seq > ChatVisitor.agent_read_seq, Message.direction == Direction.inbound)
        .group_by(ChatLogEntry.conversation_id)
    ).all()
    return {int(conversation_id): int(count) for conversation_id, count in rows}


# --- transcript ----------------------------------------------------------------------------

def send_transcript(session: Session, *, visitor: ChatVisitor) -> Message:
    """Email the chat so far to the visitor's address, through the email channel adapter."""
    if not visitor.email:
        raise ValidationFailed("Give an email address first; the transcript is sent there.",
                               details=[{"field": "email"}])
    if visitor.conversation_id is None:
        raise NotFound("There is no chat to send yet.")
    conversation = conversations_service.get_or_raise(session, conversation_id=visitor.conversation_id)
    frames = entries_since(session, visitor_id=visitor.id, after=0, limit=1000)
    lines = [f"Your chat with {session.get_one(Brand, visitor.brand_id).name}", ""]
    for frame in frames:
        who = "You" if frame["author"] == "visitor" else (frame["name"] or "Support")
        lines.append(f"[{frame['at'][:16].replace('T', ' ')} UTC] {who}: {frame['body']}")
    message = conversations_service.send_system_message(
        session, conversation=conversation, body="\n".join(lines), channel="email")
    events_service.record(session, verb="chat.transcript_requested", actor=SYSTEM, subject_type="chat_visitor",
                          subject_id=visitor.id, conversation_id=conversation.id, brand_id=visitor.brand_id,
                          data={"message_id": message.id, "email": visitor.email})
    return message
