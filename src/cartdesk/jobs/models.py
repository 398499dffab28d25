"""The durable job table: background work committed with the change that caused it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cartdesk.db.base import Base


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"  # gave up after max_attempts; visible to admins


class Job(Base):
    """One unit of background work.

    ``payload`` holds ids, never objects. ``dedupe_key`` (optional, unique) makes
    enqueueing idempotent: the same key twice is one job. A job whose worker died
    while ``running`` is picked up again once ``locked_until`` has passed.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_jobs_ready", "status", "run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(50), default="default")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[JobStatus] = mapped_column(String(16), default=JobStatus.queued)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    run_at: Mapped[datetime]
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
