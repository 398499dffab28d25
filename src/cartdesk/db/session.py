"""After-commit hooks: the way side effects leave a transaction.

Services call :func:`on_commit` to queue a callable (a realtime push, a wake-up of
the job runner); it runs only once the surrounding transaction has committed, and
is dropped if it rolls back. This is zulip's ``send_event_on_commit`` in SQLAlchemy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, event, insert, update
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.base import instance_state

T = TypeVar("T")

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


def insert_now(session: Session, obj: T) -> T:
    """INSERT the new ORM object ``obj`` at once, with one prebuilt Core statement, and add
    it to ``session`` as persistent (as though it had been flushed, or loaded).

    For the hot paths only (an agent's reply and its delivery job, a conversation opened over
    the API): a unit-of-work flush of one object costs several times the statement. ``obj`` must be transient, single-table,
    and refer only to rows that are already written; its Python-side column defaults are
    applied here, unset columns without a default are NULL, and those with a server default
    load on first access. The session sees it arrive through ``detached_to_persistent``, not
    ``pending_to_persistent``.
    """
    state = instance_state(obj)
    mapper = state.mapper
    table = mapper.local_table
    values: dict[str, Any] = {}
    for prop in mapper.column_attrs:
        column, default = prop.columns[0], prop.columns[0].default
        if prop.key in state.dict:
            values[column.key] = state.dict[prop.key]
            continue
        if column.primary_key or column.server_default is not None:
            continue  # the database's value: loaded on first access
        if default is None:
            value = None  # what the INSERT writes; known, so never loaded
        elif default.is_scalar:
            value = default.arg
        elif default.is_callable:
            value = default.arg(None)
        else:
            continue  # a sequence or SQL expression: the database's value
        values[column.key] = value
        setattr(obj, prop.key, value)
    result = session.connection().execute(_insert_statement(table), values)
    setattr(obj, mapper.primary_key[0].key, result.inserted_primary_key[0])
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


@lru_cache(maxsize=32)
def _insert_statement(table: Table) -> Any:
    return insert(table)


def update_now(session: Session, obj: object) -> None:
    """UPDATE the changed columns of the persistent ORM object ``obj`` at once, with one
    Core statement, and mark it clean, as a flush of it would.

    For the hot paths only (an agent's reply updates its conversation): the unit of work's
    flush of one changed row cost about a fifth of the whole request. Column ``onupdate``
    defaults not set by the caller are applied, as a flush applies them. An object with
    anything but plain column changes (a relationship, a version counter, joined
    inheritance) is left to an ordinary flush of the session, done here.
    """
    state = instance_state(obj)
    if not state.modified:
        return
    mapper = state.mapper
    changed = list(state.committed_state)
    columns = mapper.column_attrs
    if (
        state.key is None
        or mapper.version_id_col is not None
        or len(mapper.tables) != 1
        or any(key not in columns for key in changed)
    ):
        session.flush()
        return
    values: dict[str, Any] = {}
    for key in changed:
        values[columns[key].columns[0].key] = state.dict[key]
    for prop in columns:
        column = prop.columns[0]
        if column.key not in values and column.onupdate is not None and column.onupdate.is_callable:
            value = column.onupdate.arg(None)
            values[column.key] = value
            state.dict[prop.key] = value
    if not values:
        return
    table = mapper.local_table
    (pk,) = mapper.primary_key
    values[_PK] = state.dict[pk.key]
    session.connection().execute(_update_statement(table, pk.key), values)
    # The row now holds what the object holds: clean, as after a flush (SQLAlchemy's own
    # post-flush step; there is no public spelling of it).
    state._commit_all(state.dict, session.identity_map)


_PK = "cartdesk_pk"


@lru_cache(maxsize=32)
def _update_statement(table: Table, pk: str) -> Any:
    # No .values(): the SET clause is the parameters given, so one statement serves every
    # set of changed columns (each set compiles once, in SQLAlchemy's statement cache).
    return update(table).where(table.c[pk] == bindparam(_PK))


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
