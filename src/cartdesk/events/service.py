"""Writing audit events, and handing them to listeners once the transaction commits.

Listeners (the realtime hub, later webhooks and KPIs) are registered on the session
factory as ``event_sinks``; they receive plain dicts, only after commit, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from cartdesk.db.session import on_commit
from cartdesk.events.models import Event
from cartdesk.events.schemas import Actor
from cartdesk.kit.clock import utcnow

_PENDING = "cartdesk.pending_events"


def record(
    session: Session,
    *,
    verb: str,
    actor: Actor,
    subject_type: str,
    subject_id: int,
    conversation_id: int | None = None,
    brand_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        created_at=utcnow(),
        verb=verb,
        actor_type=actor.type,
        actor_id=actor.id,
        subject_type=subject_type,
        subject_id=subject_id,
        conversation_id=conversation_id,
        brand_id=brand_id,
        data=data or {},
    )
    session.add(event)
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        on_commit(session, lambda: _publish(session, pending))
    pending.append((event, actor))
    return event


def _publish(session: Session, pending: list[tuple[Event, Actor]]) -> None:
    session.info.pop(_PENDING, None)
    sinks = session.info.get("event_sinks") or []
    if not sinks:
        return
    # An event written inside a savepoint that rolled back lost its row (and its
    # identity); it never happened, so nobody hears of it.
    payloads = [as_payload(event, actor) for event, actor in pending if inspect(event).has_identity]
    if not payloads:
        return
    for sink in sinks:
        sink(payloads)


def as_payload(event: Event, actor: Actor | None = None) -> dict[str, Any]:
    return {
        "id": event.id,
        "verb": event.verb,
        "created_at": event.created_at.isoformat(),
        "actor": {"type": event.actor_type, "id": event.actor_id, "name": actor.name if actor else None},
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "conversation_id": event.conversation_id,
        "brand_id": event.brand_id,
        "data": event.data,
    }


def list_for_conversation(session: Session, *, conversation_id: int, limit: int = 500) -> Sequence[Event]:
    stmt = (
        select(Event).where(Event.conversation_id == conversation_id).order_by(Event.id.desc()).limit(limit)
    )
    return list(reversed(session.scalars(stmt).all()))


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Only the fields that changed, as {"field": {"before": x, "after": y}}."""
    return {
        key: {"before": before.get(key), "after": after[key]}
        for key in after
        if before.get(key) != after[key]
    }
