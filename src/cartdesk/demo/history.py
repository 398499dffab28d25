"""Replaying the past through the services.

The services stamp what they write with the current time and queue delivery of
agent replies. When we replay history (the demo store, ``cartdesk import``) the
rows must carry the time the step really happened, and replies that were sent
long ago must not be sent again. :class:`Backdater` does both, step by step,
inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, event, inspect, update
from sqlalchemy.orm import Session

from cartdesk.conversations.models import DeliveryStatus, Message
from cartdesk.db.base import UTCDateTime
from cartdesk.events import service as events_service
from cartdesk.events.models import Event
from cartdesk.jobs.models import Job
from cartdesk.kit.clock import utcnow


@cache
def _clock_fields(cls: type) -> tuple[str, ...]:
    mapper = inspect(cls)
    return tuple(a.key for a in mapper.column_attrs if isinstance(a.columns[0].type, UTCDateTime))


_DATE_EVENTS = (
    update(Event).where(Event.id.in_(bindparam("ids", expanding=True))).values(created_at=bindparam("when"))
    .execution_options(synchronize_session=False)
)


class Backdater:
    """Dates each replayed step at its own time.

    Every row a step inserts (seen through the session's persistence hooks) and
    every object the caller ``touch``-es has its clock fields that were
    set during the replay moved to the step's time. Jobs the step queued
    (deliveries of replies that went out long ago) are dropped, and those replies,
    like those sent in the step's own transaction, are marked delivered. All of it
    happens in the caller's transaction.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        # Any clock reading at or after this instant was written by the replay.
        self.started = utcnow()
        self._written: list[Any] = []
        event.listen(session, "pending_to_persistent", lambda _session, obj: self._written.append(obj))
        # Rows written at once with Core (``db.session.insert_now``: replies, their jobs).
        event.listen(session, "detached_to_persistent", lambda _session, obj: self._written.append(obj))
        # Jobs may be inserted with Core (INSERT .. ON CONFLICT) and then loaded.
        event.listen(session, "loaded_as_persistent", self._on_loaded)

    def _on_loaded(self, _session: Session, obj: Any) -> None:
        if isinstance(obj, Job):
            self._written.append(obj)

    @contextmanager
    def at(self, when: datetime) -> Iterator[Callable[..., None]]:
        """``with backdater.at(t) as touch: ...; touch(obj)`` for existing objects the step changed."""
        touched: list[Any] = []

        def touch(*objects: Any) -> None:
            touched.extend(objects)

        self._written.clear()
        events_before = len(events_service.recorded(self.session))
        yield touch
        session = self.session
        session.flush()  # also writes the step's audit events (db.session.CartdeskSession)
        # Audit events are rows written with Core, not ORM objects: dated by their ids.
        event_ids = [e.id for e in events_service.recorded(session)[events_before:] if e.id is not None]
        if event_ids:
            session.execute(_DATE_EVENTS, {"when": when, "ids": event_ids})
        for obj in [*self._written, *touched]:
            if isinstance(obj, Job):
                if obj.created_at >= self.started:
                    session.delete(obj)
                continue
            # Queued for the job, or sent in the step's own transaction (the API channel,
            # a chat to a connected visitor): either way it reached the customer long ago.
            if isinstance(obj, Message) and obj.delivery_status in (DeliveryStatus.queued, DeliveryStatus.sent):
                obj.delivery_status = DeliveryStatus.delivered
            for key in _clock_fields(type(obj)):
                value = getattr(obj, key)
                if value is not None and value >= self.started:
                    setattr(obj, key, when)
        self._written.clear()
        session.flush()
