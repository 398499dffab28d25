"""Enqueueing durable jobs inside the caller's transaction, and reading them back.

A job is a row committed together with the change that caused it: if the caller's
transaction rolls back, the job never existed. The runner (``runner.py``) claims
and runs committed jobs; this module holds what domains and admin screens call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cartdesk.db.session import insert_now, on_commit
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, NotFound

# Where the runner leaves the running job's context in ``session.info``.
CONTEXT_KEY = "cartdesk.job"


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler may want to know about the run it is part of.

    ``attempt`` counts from 1. A handler that turns a failure into a final state
    (a message marked failed) does so when ``is_last_attempt``; before that it
    raises and lets the runner retry with backoff.
    """

    id: int
    name: str
    attempt: int
    max_attempts: int

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


def context(session: Session) -> JobContext | None:
    """The job being run in this session, or None outside the runner."""
    return session.info.get(CONTEXT_KEY)


def enqueue(
    session: Session,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 8,
    queue: str = "default",
) -> Job:
    """Add a job to the caller's transaction; it exists only if that commits.

    With ``dedupe_key`` the same logical job is enqueued once, however often this
    is called (an inbound webhook replayed, a retry of the request), also when two
    transactions race: the loser's insert does nothing and it gets the winner's row.
    """
    now = utcnow()
    taker = _taker_for(session, name) if dedupe_key is None and (run_at is None or run_at <= now) else None
    values: dict[str, Any] = {
        "name": name,
        "queue": queue,
        "payload": payload or {},
        "dedupe_key": dedupe_key,
        "status": JobStatus.queued,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_at": run_at or now,
        "created_at": now,
    }
    if taker is not None:
        # Claimed as it is written, for the runner in this process that runs it next: no
        # claiming transaction of its own (a reply's delivery; jobs/loop_runner.py).
        values.update(status=JobStatus.running, attempts=1, locked_by=taker.worker_id,
                      locked_until=now + taker.lease)
    # Without a key, inserted at once with a prebuilt Core statement: a flush of the unit
    # of work for this one row cost several times the INSERT (a reply's delivery job).
    job = insert_now(session, Job(**values)) if dedupe_key is None else _insert_once(session, values)
    if taker is not None:
        on_commit(session, partial(taker.take, id=job.id, name=name, payload=values["payload"],
                                   max_attempts=max_attempts, locked_until=values["locked_until"]))
    else:
        _wake_after_commit(session, name)
    return job


class Taker(Protocol):
    """A runner that takes jobs as they are enqueued (``session.info["job_taker"]``): the
    row is written claimed by it, and ``take`` hands it the job after the commit. Should
    the process die first, the lease runs out and any runner claims the job again."""

    worker_id: str
    lease: timedelta

    def takes_now(self, name: str) -> bool: ...

    def take(self, *, id: int, name: str, payload: dict[str, Any], max_attempts: int,
             locked_until: datetime) -> None: ...


def _taker_for(session: Session, name: str) -> Taker | None:
    taker: Taker | None = session.info.get("job_taker")
    return taker if taker is not None and taker.takes_now(name) else None


def _insert_once(session: Session, values: dict[str, Any]) -> Job:
    # INSERT .. ON CONFLICT DO NOTHING rather than a savepoint: PostgreSQL waits for a
    # racing transaction with the same key and then skips, and a rolled-back savepoint
    # would also drop the caller's queued after-commit events.
    job = session.scalar(_insert_once_statement(session.get_bind().dialect.name), values)
    if job is not None:
        return job
    existing = _by_dedupe_key(session, values["dedupe_key"])
    if existing is None:  # the winner rolled back between our two statements
        raise Conflict("A job with this dedupe key was being created concurrently; try again.")
    return existing


@lru_cache(maxsize=4)
def _insert_once_statement(dialect: str) -> Any:
    # Built once per dialect and run with bound values: constructing an ORM insert on
    # every call cost more than executing it.
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    columns = ("name", "queue", "payload", "dedupe_key", "status", "attempts", "max_attempts", "run_at",
               "created_at")
    return (
        insert(Job)
        .values({c: bindparam(c, type_=Job.__table__.c[c].type) for c in columns})
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Job)
    )


def _by_dedupe_key(session: Session, dedupe_key: str) -> Job | None:
    return session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))


def get(session: Session, *, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def get_or_raise(session: Session, *, job_id: int) -> Job:
    job = get(session, job_id=job_id)
    if job is None:
        raise NotFound(f"Job {job_id} does not exist.", details={"id": job_id})
    return job


def list_jobs(
    session: Session, *, status: JobStatus | None = None, name: str | None = None, limit: int = 100
) -> Sequence[Job]:
    """Most recent first; for admin screens and the CLI."""
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    if name is not None:
        stmt = stmt.where(Job.name == name)
    return session.scalars(stmt).all()


def counts_by_status(session: Session) -> dict[str, int]:
    """How many jobs are in each status (for /metrics and health pages)."""
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    counts = {str(s): 0 for s in JobStatus}
    counts.update({str(status): count for status, count in rows})
    return counts


def retry(session: Session, *, job: Job) -> Job:
    """Give a failed job a fresh set of attempts (an admin fixed the cause)."""
    if job.status != JobStatus.failed:
        raise Conflict(f"Only failed jobs can be retried; job {job.id} is {job.status}.")
    job.status = JobStatus.queued
    job.attempts = 0
    job.run_at = utcnow()
    job.finished_at = None
    job.locked_by = None
    job.locked_until = None
    session.flush()
    _wake_after_commit(session, job.name)
    return job


def _wake_after_commit(session: Session, name: str) -> None:
    # ``job_wakeup(name)`` wakes the runner that takes jobs of that name (the web process
    # has two: the event loop's for quick jobs, a thread for the rest).
    wake = session.info.get("job_wakeup")
    if wake is not None:
        on_commit(session, partial(wake, name))


def purge_finished(session: Session, *, older_than: datetime) -> int:
    """Delete done jobs finished before ``older_than``; failed ones stay for inspection."""
    result = session.execute(
        delete(Job).where(Job.status == JobStatus.done, Job.finished_at < older_than)
    )
    return result.rowcount or 0
