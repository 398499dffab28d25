"""Recurring jobs run once per period however many runners ask; the FTS merge job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cartdesk.db.engine import Database
from cartdesk.jobs import recurring as recurring_mod
from cartdesk.jobs import registry
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.jobs.runner import JobRunner
from cartdesk.search import tasks as search_tasks
from tests.factories.conversations import make_conversation
from tests.platform.conftest import FakeClock

_runs: list[dict[str, Any]] = []


def _tick(session: Session, payload: dict[str, Any]) -> None:
    _runs.append(payload)


@pytest.fixture
def ticking(monkeypatch: pytest.MonkeyPatch) -> str:
    """A recurring job for this test only (removed again, so other runners never see it)."""
    name = "tests.recurring.tick"
    _runs.clear()
    monkeypatch.setitem(registry._HANDLERS, name, _tick)
    monkeypatch.setitem(recurring_mod._RECURRING, name, recurring_mod.Recurring(name=name, every=timedelta(minutes=5)))
    return name


def _jobs(session: Session, name: str) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.name == name).order_by(Job.id)))


def test_each_period_is_enqueued_once_across_runners(
    ticking: str, bound_db: Database, settings, clock: FakeClock  # type: ignore[no-untyped-def]
) -> None:
    one = JobRunner(bound_db, settings=settings, clock=clock, worker_id="one")
    two = JobRunner(bound_db, settings=settings, clock=clock, worker_id="two")
    assert ticking in one.schedule_recurring()
    assert ticking in two.schedule_recurring()  # found, not added again
    assert one.schedule_recurring() == {}  # same period: no write at all
    with bound_db.transaction() as s:
        assert len(_jobs(s, ticking)) == 1

    assert one.run_pending() >= 1
    assert two.run_pending() == 0
    assert len(_runs) == 1

    clock.advance(minutes=5)
    two.schedule_recurring()
    one.schedule_recurring()
    with bound_db.transaction() as s:
        jobs = _jobs(s, ticking)
    assert len(jobs) == 2
    assert jobs[0].payload["period"] + 1 == jobs[1].payload["period"]
    one.run_pending()
    assert len(_runs) == 2


def test_a_failed_period_is_not_retried(
    ticking: str, bound_db: Database, settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    def boom(session: Session, payload: dict[str, Any]) -> None:
        raise RuntimeError("upkeep failed")

    monkeypatch.setitem(registry._HANDLERS, ticking, boom)
    runner = JobRunner(bound_db, settings=settings, clock=clock, worker_id="one")
    runner.schedule_recurring()
    runner.run_pending()
    with bound_db.transaction() as s:
        (job,) = _jobs(s, ticking)
    assert job.status == JobStatus.failed
    assert "upkeep failed" in (job.last_error or "")


def test_sqlite_fts_merges_in_the_background(session: Session, backend: str) -> None:
    if backend != "sqlite":  # GIN indexes maintain themselves: nothing to merge, nothing chained
        search_tasks.merge_index(session, {"period": 1})
        assert _jobs(session, "search.merge_index") == []
        return
    automerge = session.execute(text("SELECT v FROM messages_fts_config WHERE k = 'automerge'")).scalar_one()
    assert automerge == 0  # migration 0007: no merging inside a request's write

    words = [f"zyxbanana{n}" for n in range(8)]
    for word in words:  # each savepoint flushes FTS5's pending terms as a new segment
        with session.begin_nested():
            make_conversation(session, body=f"Parcel missing, reference {word}")
    assert search_tasks.merge_step(session) is True
    steps = 1
    while search_tasks.merge_step(session):
        steps += 1
        assert steps < 50
    assert search_tasks.merge_step(session) is False
    for word in words:
        found = session.execute(text("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH :w"), {"w": word})
        assert found.scalar_one() == 1
