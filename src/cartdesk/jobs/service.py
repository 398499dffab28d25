"""Enqueueing durable jobs inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.db.session import on_commit
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.kit.clock import utcnow


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
    is called (an inbound webhook replayed, a retry of the request).
    """
    if dedupe_key is not None:
        existing = session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    now = utcnow()
    job = Job(
        name=name,
        queue=queue,
        payload=payload or {},
        dedupe_key=dedupe_key,
        status=JobStatus.queued,
        attempts=0,
        max_attempts=max_attempts,
        run_at=run_at or now,
        created_at=now,
    )
    session.add(job)
    wake = session.info.get("job_wakeup")
    if wake is not None:
        on_commit(session, wake)
    return job
