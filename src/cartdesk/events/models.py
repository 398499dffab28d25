"""The audit log: every state change writes one row here, in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cartdesk.db.base import Base


class Event(Base):
    """Who did what to which thing, when, with the values before and after.

    ``conversation_id`` is filled for anything that belongs to a conversation so
    its history is one indexed read. Events are never updated or deleted; readers
    (realtime, webhooks, KPIs) consume them after commit.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_conversation", "conversation_id", "id"),
        Index("ix_events_subject", "subject_type", "subject_id", "id"),
        Index("ix_events_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    verb: Mapped[str] = mapped_column(String(64))  # e.g. "conversation.updated"
    actor_type: Mapped[str] = mapped_column(String(16))  # user | customer | system | bot | api
    actor_id: Mapped[int | None]
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int]
    conversation_id: Mapped[int | None]
    brand_id: Mapped[int | None]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
