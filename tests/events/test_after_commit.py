"""Events reach listeners only after commit, and only if their rows survived."""

from __future__ import annotations

import pytest

from cartdesk.db.engine import Database
from cartdesk.events import service as events_service
from cartdesk.events.schemas import SYSTEM


def _record(session, verb: str) -> None:  # type: ignore[no-untyped-def]
    events_service.record(session, verb=verb, actor=SYSTEM, subject_type="test", subject_id=1)


def test_events_are_published_after_commit_only(bound_db: Database) -> None:
    got: list[dict] = []
    bound_db.configure_info(event_sinks=[got.extend])
    session = bound_db.sessionmaker()
    _record(session, "first")
    session.flush()
    assert got == []  # flushed is not committed
    session.commit()
    assert [e["verb"] for e in got] == ["first"]
    assert got[0]["id"] is not None


def test_rollback_publishes_nothing(bound_db: Database) -> None:
    got: list[dict] = []
    bound_db.configure_info(event_sinks=[got.extend])
    with pytest.raises(RuntimeError), bound_db.transaction() as session:
        _record(session, "doomed")
        raise RuntimeError("boom")
    with bound_db.transaction():
        pass
    assert got == []


def test_failed_savepoint_drops_only_its_own_events(bound_db: Database) -> None:
    got: list[dict] = []
    bound_db.configure_info(event_sinks=[got.extend])
    with bound_db.transaction() as session:
        _record(session, "kept")
        with pytest.raises(RuntimeError), session.begin_nested():
            _record(session, "inside-failed-savepoint")
            session.flush()
            raise RuntimeError("boom")
        _record(session, "after")
    assert [e["verb"] for e in got] == ["kept", "after"]
