"""Audit events are rows written with Core, together, before anything reads the database."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from cartdesk.db.engine import Database
from cartdesk.events import service as events_service
from cartdesk.events.models import Event
from cartdesk.events.schemas import SYSTEM, Actor


def _record(session: Session, verb: str, *, subject_id: int = 7) -> None:
    events_service.record(session, verb=verb, actor=Actor(type="user", id=3, name="Maria"), subject_type="test",
                          subject_id=subject_id, conversation_id=11, brand_id=1, data={"n": verb})


def _verbs(session: Session) -> list[str]:
    return list(session.scalars(select(Event.verb).where(Event.subject_type == "test").order_by(Event.id)))


def test_a_query_in_the_same_transaction_sees_the_events_recorded_so_far(session: Session) -> None:
    _record(session, "one")
    _record(session, "two")
    assert _verbs(session) == ["one", "two"]  # the autoflush before the query wrote them
    row = session.scalars(select(Event).where(Event.verb == "two")).one()
    assert (row.actor_type, row.actor_id, row.subject_id, row.conversation_id, row.brand_id, row.data) == (
        "user", 3, 7, 11, 1, {"n": "two"})
    assert row.created_at.tzinfo is not None


def test_an_explicit_flush_writes_them_even_with_nothing_else_to_flush(session: Session) -> None:
    _record(session, "alone")
    session.flush()
    count = session.connection().execute(
        select(func.count()).select_from(Event).where(Event.verb == "alone")).scalar_one()
    assert count == 1


def test_the_events_of_a_transaction_are_one_insert(bound_db: Database) -> None:
    got: list[dict] = []
    bound_db.configure_info(event_sinks=[got.extend])
    inserts: list[str] = []
    engine_or_connection = bound_db.sessionmaker.kw["bind"]

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            inserts.append(statement)

    event.listen(engine_or_connection, "before_cursor_execute", count)
    try:
        with bound_db.transaction() as session:
            for n in range(5):
                _record(session, f"e{n}", subject_id=n)
    finally:
        event.remove(engine_or_connection, "before_cursor_execute", count)
    assert len(inserts) == 1
    assert [e["verb"] for e in got] == ["e0", "e1", "e2", "e3", "e4"]
    assert [e["subject_id"] for e in got] == [0, 1, 2, 3, 4]
    ids = [e["id"] for e in got]
    assert ids == sorted(ids) and len(set(ids)) == 5
    with bound_db.transaction(read_only=True) as session:  # each payload carries its own row's id
        rows = {e.id: (e.verb, e.subject_id) for e in session.scalars(select(Event).where(Event.id.in_(ids)))}
    assert rows == {e["id"]: (e["verb"], e["subject_id"]) for e in got}
    assert got[0]["actor"] == {"type": "user", "id": 3, "name": "Maria"}


def test_nested_savepoints_drop_exactly_the_events_of_the_one_that_failed(bound_db: Database) -> None:
    got: list[dict] = []
    bound_db.configure_info(event_sinks=[got.extend])
    with bound_db.transaction() as session:
        _record(session, "outer-before")  # not yet written when the savepoint begins
        with session.begin_nested():
            _record(session, "kept-savepoint")
            with pytest.raises(RuntimeError), session.begin_nested():
                _record(session, "failed-inner-unwritten")
                session.flush()
                _record(session, "failed-inner-written")
                assert "failed-inner-written" in _verbs(session)
                raise RuntimeError("boom")
            _record(session, "after-inner")
        _record(session, "outer-after")
        assert _verbs(session) == ["outer-before", "kept-savepoint", "after-inner", "outer-after"]
    assert [e["verb"] for e in got] == ["outer-before", "kept-savepoint", "after-inner", "outer-after"]


def test_nothing_is_written_or_published_when_the_transaction_rolls_back(bound_db: Database) -> None:
    got: list[dict] = []
    bound_db.configure_info(event_sinks=[got.extend])
    with pytest.raises(RuntimeError), bound_db.transaction() as session:
        _record(session, "doomed")
        session.flush()
        raise RuntimeError("boom")
    with bound_db.transaction() as session:
        _record(session, "next")
        assert _verbs(session) == ["next"]
    assert [e["verb"] for e in got] == ["next"]


def test_system_events_carry_no_actor_id(bound_db: Database) -> None:
    got: list[dict] = []
    bound_db.configure_info(event_sinks=[got.extend])
    with bound_db.transaction() as session:
        events_service.record(session, verb="sys", actor=SYSTEM, subject_type="test", subject_id=1)
    assert got[0]["actor"]["type"] == SYSTEM.type and got[0]["data"] == {}


def test_an_event_can_name_an_object_that_is_flushed_after_it_was_recorded(bound_db: Database) -> None:
    from cartdesk.customers.models import Customer

    got: list[dict] = []
    bound_db.configure_info(event_sinks=[got.extend])
    with bound_db.transaction() as session:
        customer = Customer(name="Not Yet Flushed", is_vip=False, custom_fields={})
        session.add(customer)
        events_service.record(session, verb="customer.created", actor=SYSTEM, subject_type="customer",
                              subject=customer)
        assert customer.id is None
        # The commit flushes the customer, then writes the event with the id it got.
    assert got[0]["subject_id"] == customer.id is not None
    with bound_db.transaction(read_only=True) as session:
        row = session.scalars(select(Event).where(Event.id == got[0]["id"])).one()
    assert (row.subject_type, row.subject_id) == ("customer", customer.id)


def test_record_takes_a_subject_id_or_a_subject(session: Session) -> None:
    with pytest.raises(TypeError):
        events_service.record(session, verb="x", actor=SYSTEM, subject_type="test")
    with pytest.raises(TypeError):
        events_service.record(session, verb="x", actor=SYSTEM, subject_type="test", subject_id=1, subject=object())
