"""Writing audit events, and handing them to listeners once the transaction commits.

Listeners (the realtime hub, later webhooks and KPIs) are registered on the session
factory as ``event_sinks``; they receive plain dicts, only after commit, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session, SessionTransaction

from cartdesk.db.session import on_commit
from cartdesk.events.models import Event
from cartdesk.events.schemas import Actor
from cartdesk.kit.clock import utcnow

_PENDING = "cartdesk.pending_events"  # every event of the transaction, for publishing
_UNWRITTEN = "cartdesk.unwritten_events"  # those whose rows are not inserted yet


@dataclass(slots=True)
class _Pending:
    row: dict[str, Any]
    actor: Actor
    savepoint: SessionTransaction | None  # the innermost savepoint it was recorded in
    subject: Any = None  # an object not flushed yet: subject_id is its id once it is
    id: int | None = None
    dropped: bool = False


def record(
    session: Session,
    *,
    verb: str,
    actor: Actor,
    subject_type: str,
    subject_id: int | None = None,
    subject: Any = None,
    conversation_id: int | None = None,
    brand_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the caller's transaction.

    The row is not an ORM object: the events of a transaction are inserted together, in
    one statement, at the next flush (explicit, or the autoflush before a query; see
    ``db.session.CartdeskSession``), savepoint or commit, which spares the unit of work
    an object per event. They reach the event sinks after commit, in the order recorded.

    ``subject`` instead of ``subject_id``: an ORM object added but not yet flushed, whose
    id the row takes when it is written (after the flush that inserts it), so a service
    need not flush just to name what it created.
    """
    if (subject_id is None) == (subject is None):
        raise TypeError("record() takes either subject_id or subject")
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        session.info[_UNWRITTEN] = []
        on_commit(session, lambda: _publish(session, pending))
    item = _Pending(
        row={"created_at": utcnow(), "verb": verb, "actor_type": actor.type, "actor_id": actor.id,
             "subject_type": subject_type, "subject_id": subject_id, "conversation_id": conversation_id,
             "brand_id": brand_id, "data": data or {}},
        actor=actor,
        savepoint=session.get_nested_transaction(),
        subject=subject,
    )
    pending.append(item)
    session.info[_UNWRITTEN].append(item)


_TABLE = Event.__table__
_INSERT_ONE = _TABLE.insert().returning(_TABLE.c.id)
_INSERT_MANY = _TABLE.insert().returning(_TABLE.c.id, sort_by_parameter_order=True)


def write_pending(session: Session) -> None:
    """Insert the events recorded but not yet written (a no-op when there are none)."""
    unwritten = session.info.get(_UNWRITTEN)
    if not unwritten:
        return
    session.info[_UNWRITTEN] = []
    for item in unwritten:
        if item.subject is not None:
            item.row["subject_id"] = item.subject.id
            item.subject = None
            if item.row["subject_id"] is None:
                raise RuntimeError(f"event {item.row['verb']!r} names an object that was never flushed")
    connection = session.connection()
    if len(unwritten) == 1:
        unwritten[0].id = connection.execute(_INSERT_ONE, unwritten[0].row).scalar_one()
        return
    rows = [item.row for item in unwritten]
    if connection.dialect.name == "sqlite":
        # SQLAlchemy cannot batch an ordered RETURNING on SQLite and would send one INSERT a
        # row. Instead: one executemany, and the ids from last_insert_rowid(). This
        # transaction holds SQLite's write lock, and a new row without an id gets the
        # largest rowid plus one, so the rows got consecutive ids ending there.
        connection.execute(_TABLE.insert(), rows)
        last = connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
        ids = list(range(last - len(rows) + 1, last + 1))
    else:
        ids = list(connection.execute(_INSERT_MANY, rows).scalars())
    for item, event_id in zip(unwritten, ids, strict=True):
        item.id = event_id


def recorded(session: Session) -> list[_Pending]:
    """The events recorded in this session's transaction so far (written or not), in order."""
    return session.info.get(_PENDING) or []


def _within(savepoint: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while savepoint is not None:
        if savepoint is ended:
            return True
        savepoint = savepoint.parent
    return False


@sa_event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_UNWRITTEN):
        session.flush()  # the objects first (an event may name one), then the events


@sa_event.listens_for(Session, "after_transaction_create")
def _before_savepoint(session: Session, transaction: SessionTransaction) -> None:
    # Events recorded before a savepoint belong to the enclosing transaction: written now,
    # they survive the savepoint's rollback.
    if transaction.nested and session.info.get(_UNWRITTEN):
        write_pending(session)


@sa_event.listens_for(Session, "after_soft_rollback")
def _after_savepoint_rollback(session: Session, previous: SessionTransaction) -> None:
    # A rolled-back savepoint took its events' rows (or their chance of one) with it:
    # nobody hears of them. The end of the outermost transaction clears everything
    # (db/session.py).
    if not previous.nested:
        return
    for key in (_PENDING, _UNWRITTEN):
        items = session.info.get(key)
        if items:
            for item in items:
                if _within(item.savepoint, previous):
                    item.dropped = True
            session.info[key] = [item for item in items if not item.dropped] if key == _UNWRITTEN else items


def _publish(session: Session, pending: list[_Pending]) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_UNWRITTEN, None)
    sinks = session.info.get("event_sinks") or []
    if not sinks:
        return
    payloads = [_payload(item) for item in pending if not item.dropped and item.id is not None]
    if not payloads:
        return
    for sink in sinks:
        sink(payloads)


def _payload(item: _Pending) -> dict[str, Any]:
    row = item.row
    return {
        "id": item.id,
        "verb": row["verb"],
        "created_at": row["created_at"].isoformat(),
        "actor": {"type": row["actor_type"], "id": row["actor_id"], "name": item.actor.name},
        "subject_type": row["subject_type"],
        "subject_id": row["subject_id"],
        "conversation_id": row["conversation_id"],
        "brand_id": row["brand_id"],
        "data": row["data"],
    }


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
