"""Quarantine retention: an hourly recurring job purges old quarantined mail, sparing mail an admin looks at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.channels.email import service as email_service
from cartdesk.channels.email.models import Quarantine, QuarantineReason
from cartdesk.config import get_settings
from cartdesk.db.engine import Database
from cartdesk.events.models import Event
from cartdesk.jobs import recurring
from cartdesk.jobs.runner import JobRunner, load_handlers
from cartdesk.kit.clock import utcnow
from tests.factories.email import make_mailbox


def _held(session: Session, key: str, *, age_days: float, viewed_days_ago: float | None = None) -> int:
    row = email_service.quarantine(session, raw=f"Subject: {key}\r\n\r\nbody".encode(), source="imap",
                                   reason=QuarantineReason.loop, error="auto-reply", message_key=key)
    row.created_at = utcnow() - timedelta(days=age_days)
    if viewed_days_ago is not None:
        row.viewed_at = utcnow() - timedelta(days=viewed_days_ago)
    session.flush()
    return row.id


def _keys(session: Session) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(Quarantine.message_key)))


def test_purge_drops_old_mail_but_not_new_or_looked_at(session: Session) -> None:
    _held(session, "new", age_days=2)
    _held(session, "old", age_days=31)
    _held(session, "old-looked-at", age_days=90, viewed_days_ago=3)
    _held(session, "old-looked-at-long-ago", age_days=90, viewed_days_ago=45)
    assert email_service.purge_quarantine(session, older_than_days=30) == 2
    assert _keys(session) == {"new", "old-looked-at"}
    event = session.scalars(select(Event).where(Event.verb == "email.quarantine_purged")).one()
    assert event.data["count"] == 2 and event.data["older_than_days"] == 30
    # Nothing left to purge: no event, no work.
    assert email_service.purge_quarantine(session, older_than_days=30) == 0
    # 0 means "keep for ever".
    assert email_service.purge_quarantine(session, older_than_days=0) == 0
    # A shorter window: the 2-day-old mail goes, and so does the one last looked at 3 days ago.
    assert email_service.purge_quarantine(session, older_than_days=1) == 2
    assert _keys(session) == set()


def test_purge_works_in_batches(session: Session) -> None:
    for n in range(5):
        _held(session, f"m{n}", age_days=40)
    assert email_service.purge_quarantine(session, older_than_days=30, batch=3) == 3
    assert email_service.purge_quarantine(session, older_than_days=30, batch=3) == 2
    assert _keys(session) == set()


@pytest.fixture
def keep_days(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("CARTDESK_EMAIL_QUARANTINE_DAYS", "7")
    get_settings.cache_clear()
    yield 7
    get_settings.cache_clear()


def test_the_recurring_job_purges_with_the_configured_days(
    keep_days: int, bound_db: Database, settings: Any
) -> None:
    assert "cartdesk.channels.email.tasks" in load_handlers()  # what every runner imports
    assert recurring.registered()["email.purge_quarantine"].every == timedelta(hours=1)
    with bound_db.transaction() as s:
        mailbox_id = make_mailbox(s).id
        _held(s, "week-old", age_days=8)
        _held(s, "fresh", age_days=6)
        s.get_one(Quarantine, _held(s, "mailbox-one", age_days=10)).mailbox_id = mailbox_id
    runner = JobRunner(bound_db, settings=settings, worker_id="t")
    assert "email.purge_quarantine" in runner.schedule_recurring()
    assert runner.run_pending() >= 1
    with bound_db.transaction() as s:
        assert _keys(s) == {"fresh"}
