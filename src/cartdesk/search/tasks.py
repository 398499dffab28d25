"""Background upkeep of the search index.

SQLite's FTS5 merges its index segments itself ("automerge") inside whichever
write happens to push a level over the threshold: on a store with millions of
messages that one unlucky reply paid 100+ ms (docs/performance.md). Migration 0007
turns automerge off; this job does the same merging in small steps in the
background instead, each step its own short transaction, so segments never pile
up and no request pays for them. (FTS5's "crisismerge" still bounds the segments
on a level if the job runner is not running.) PostgreSQL's GIN indexes maintain
themselves; there the job does nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from cartdesk.jobs import service as jobs_service
from cartdesk.jobs.recurring import recurring
from cartdesk.kit.clock import utcnow

FTS_TABLES = ("messages_fts", "conversations_fts", "customers_fts")
# Pages of index written per table per step: a few milliseconds of work.
PAGES_PER_STEP = 128
# Steps chained within one period, at most; the next period goes on from there.
MAX_STEPS = 30
STEP_GAP = timedelta(milliseconds=500)


@recurring("search.merge_index", every=timedelta(minutes=1))
def merge_index(session: Session, payload: dict[str, Any]) -> None:
    if session.get_bind().dialect.name != "sqlite":
        return
    worked = merge_step(session)
    step = int(payload.get("step", 0)) + 1
    if worked and step < MAX_STEPS:
        # More to merge: the next step runs in its own transaction shortly, so writers
        # are held up by one step at a time, never by the whole merge.
        period = payload.get("period")
        jobs_service.enqueue(
            session, "search.merge_index", {"period": period, "step": step},
            dedupe_key=f"recurring:search.merge_index:{period}:{step}", run_at=utcnow() + STEP_GAP,
            max_attempts=1,
        )


def merge_step(session: Session, *, pages: int = PAGES_PER_STEP) -> bool:
    """One incremental merge over each FTS table; True if any table had work to do.

    FTS5 documents the test: the merge command did work when total_changes() grew by
    two or more.
    """
    worked = False
    for table in FTS_TABLES:
        before = session.execute(text("SELECT total_changes()")).scalar_one()
        session.execute(text(f"INSERT INTO {table}({table}, rank) VALUES ('merge', :pages)"), {"pages": pages})
        after = session.execute(text("SELECT total_changes()")).scalar_one()
        worked = worked or after - before >= 2
    return worked
