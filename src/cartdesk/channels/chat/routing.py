"""Routing live chats to agents: the least busy online agent, up to a per-agent capacity.

A chat that nobody owns goes to the online agent (of the brand's chat team when one is
set, or of the conversation's team when a supervisor put it in one) with the fewest
*active* chats — chat conversations assigned to them that are new or open — provided that
is below the brand's ``max_chats_per_agent``. Pending, on hold, solved and closed chats
free the seat. Ties go to the lower user id, so with equal loads routing is predictable.

When nobody can take a chat it waits unassigned in the queue (the brand's unassigned
active chats, oldest first) and :func:`drain` hands the queue out when that changes: an
agent opens the app or sets themselves online, a chat is solved or reassigned, the
settings allow more (``channels/chat/dispatch.py`` watches for those moments).

Two routers choosing at once (two requests, two processes) could both see the same agent
below capacity. So a decision is confirmed under a lock held to the end of the
transaction: a PostgreSQL advisory lock, or on SQLite the single writer lock every write
transaction already holds. The lock is only taken when a free agent seems to exist, so
while everyone is busy or away, queued chats' messages do not queue behind each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from cartdesk.auth.models import User
from cartdesk.channels.chat import service as chat_service
from cartdesk.channels.chat.models import ChatWidgetSettings
from cartdesk.conversations.models import CHAT_QUEUE_WHERE, Conversation, Status
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor

ACTIVE = (Status.new, Status.open)
# Unowned and ACTIVE, as the literal condition of the partial index ix_conversations_chat_queue.
# (Columns named with their table: the loaded conversation joins others having the same names.)
_QUEUED = text(" AND ".join(f"conversations.{term}" for term in CHAT_QUEUE_WHERE.split(" AND ")))
# Why a chat waits; "routing_off" is not one: the brand assigns chats by hand.
QUEUED_REASONS = frozenset({"nobody_online", "all_at_capacity"})
ROUTER = Actor(type="system", id=None, name="Chat routing")
DRAIN_BATCH = 100
# pg_advisory_xact_lock key: "chat" in ASCII, so it reads as what it is in pg_locks.
_LOCK_KEY = 0x63686174


@dataclass(frozen=True, slots=True)
class Decision:
    """What routing did with one chat: ``assignee_id`` set, or ``reason`` why it waits."""

    conversation_id: int
    assignee_id: int | None
    reason: str | None = None


def active_chats(session: Session, *, user_ids: Sequence[int]) -> dict[int, int]:
    """How many active chats each agent holds (agents with none are absent)."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(Conversation.assignee_id, func.count())
        .where(Conversation.assignee_id.in_(list(user_ids)), Conversation.status.in_(ACTIVE),
               Conversation.channel == chat_service.CHANNEL, Conversation.merged_into_id.is_(None))
        .group_by(Conversation.assignee_id)
    ).all()
    return {int(uid): int(count) for uid, count in rows}


def _candidates(
    session: Session, *, settings: ChatWidgetSettings, team_id: int | None, now: datetime | None
) -> tuple[list[tuple[int, User]], str | None]:
    """Online agents below capacity, least busy first, with their load; or why there are none."""
    agents = chat_service.online_agents(session, team_id=team_id or settings.routing_team_id, now=now)
    if not agents:
        return [], "nobody_online"
    loads = active_chats(session, user_ids=[a.id for a in agents])
    free = sorted(((loads.get(a.id, 0), a) for a in agents if loads.get(a.id, 0) < settings.max_chats_per_agent),
                  key=lambda pair: (pair[0], pair[1].id))
    return free, None if free else "all_at_capacity"


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def route(session: Session, *, conversation: Conversation, now: datetime | None = None) -> Decision:
    """Give an unowned active chat to the least busy online agent, or leave it queued."""
    if conversation.assignee_id is not None:
        return Decision(conversation.id, conversation.assignee_id, "already_assigned")
    if conversation.status not in ACTIVE or conversation.channel != chat_service.CHANNEL \
            or conversation.merged_into_id is not None:
        return Decision(conversation.id, None, "not_active")
    settings = chat_service.widget_settings(session, brand_id=conversation.brand_id)
    if not settings.routing:
        return Decision(conversation.id, None, "routing_off")
    free, reason = _candidates(session, settings=settings, team_id=conversation.team_id, now=now)
    if not free:
        return Decision(conversation.id, None, reason)
    _lock(session)
    # Confirm under the lock: another router may have filled a seat since the first look.
    free, reason = _candidates(session, settings=settings, team_id=conversation.team_id, now=now)
    if not free:
        return Decision(conversation.id, None, reason)
    load, agent = free[0]
    _assign(session, conversation=conversation, agent=agent, load=load, capacity=settings.max_chats_per_agent)
    return Decision(conversation.id, agent.id)


def _assign(session: Session, *, conversation: Conversation, agent: User, load: int, capacity: int) -> None:
    # Written here rather than through conversations_service.update: that needs a user
    # principal, and taking ownership there also opens a new conversation, which would say
    # someone is working a chat nobody has looked at yet. The conversation.assigned event
    # has the same shape, so the inbox, the activity log and realtime treat it alike.
    conversation.assignee_id = agent.id
    session.flush()
    session.expire(conversation, ["assignee"])
    common = {"actor": ROUTER, "subject_type": "conversation", "subject_id": conversation.id,
              "conversation_id": conversation.id, "brand_id": conversation.brand_id}
    events_service.record(session, verb="conversation.assigned", **common,
                          data={"assignee_id": {"before": None, "after": agent.id}})
    events_service.record(session, verb="chat.routed", **common,
                          data={"assignee_id": agent.id, "assignee_name": agent.name,
                                "active_chats": load + 1, "capacity": capacity})


def queued(session: Session, *, conversation: Conversation, reason: str) -> None:
    """A new chat found nobody free: say so once, in the conversation's history."""
    events_service.record(session, verb="chat.queued", actor=ROUTER, subject_type="conversation",
                          subject_id=conversation.id, conversation_id=conversation.id,
                          brand_id=conversation.brand_id, data={"reason": reason})


def drain(session: Session, *, brand_id: int | None = None, now: datetime | None = None) -> list[Decision]:
    """Hand out queued chats (of one brand, or all) while anyone can take them."""
    routed: list[Decision] = []
    full: set[tuple[int, int | None]] = set()  # (brand, team) with nobody free: skip their other chats
    # The queue is read as plain rows and a conversation is loaded only when it is routed:
    # when every seat is taken (the usual reason for a queue) the first chat fills ``full``
    # and a drain costs one light query instead of loading the whole batch.
    stmt = select(Conversation.id, Conversation.brand_id, Conversation.team_id).where(
        _QUEUED, Conversation.channel == chat_service.CHANNEL)
    if brand_id is not None:
        stmt = stmt.where(Conversation.brand_id == brand_id)
    for conversation_id, queued_brand, team_id in session.execute(
            stmt.order_by(Conversation.id).limit(DRAIN_BATCH)).all():
        key = (queued_brand, team_id)
        if key in full:
            continue
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            continue
        decision = route(session, conversation=conversation, now=now)
        if decision.assignee_id is not None:
            routed.append(decision)
        else:
            full.add(key)
    return routed


def queued_brands(session: Session, *, brand_ids: Iterable[int] | None = None) -> set[int]:
    """Brands with at least one chat waiting (of ``brand_ids``, or of all)."""
    stmt = select(Conversation.brand_id).where(_QUEUED, Conversation.channel == chat_service.CHANNEL).distinct()
    if brand_ids is not None:
        stmt = stmt.where(Conversation.brand_id.in_(list(brand_ids)))
    return set(session.scalars(stmt))
