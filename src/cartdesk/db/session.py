"""After-commit hooks: the way side effects leave a transaction.

Services call :func:`on_commit` to queue a callable (a realtime push, a wake-up of
the job runner); it runs only once the surrounding transaction has committed, and
is dropped if it rolls back. This is zulip's ``send_event_on_commit`` in SQLAlchemy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

log = logging.getLogger(__name__)
_KEY = "cartdesk.after_commit"


class CartdeskSession(Session):
    """The session every Cartdesk transaction uses.

    Audit events are not ORM objects (``events/service.py`` inserts a transaction's
    events together, with Core); a flush, explicit or before a query, writes the ones
    recorded since the last one after the objects, so the session reads its own writes as
    usual and an event can name an object that the same flush inserted.
    """

    def flush(self, objects: object = None) -> None:
        super().flush(objects)  # type: ignore[arg-type]
        # After the objects: an event may name one this flush inserted.
        if self.info.get("cartdesk.unwritten_events"):
            from cartdesk.events.service import write_pending

            write_pending(self)


def on_commit(session: Session, callback: Callable[[], object]) -> None:
    session.info.setdefault(_KEY, []).append(callback)


def _run_callbacks(session: Session) -> None:
    callbacks = session.info.pop(_KEY, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # a failed push must never undo a committed change
            log.exception("after-commit callback failed")


def _drop_callbacks(session: Session) -> None:
    session.info.pop(_KEY, None)
    session.info.pop("cartdesk.pending_events", None)
    session.info.pop("cartdesk.unwritten_events", None)


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # A rolled-back savepoint (begin_nested) must not throw away what the outer
    # transaction queued before it; only the end of the outermost one does.
    if previous_transaction.parent is None and previous_transaction.nested is False:
        _drop_callbacks(session)


def install_commit_hooks(factory: sessionmaker[Session]) -> None:
    event.listen(factory, "after_commit", _run_callbacks)
    event.listen(factory, "after_soft_rollback", _after_soft_rollback)
