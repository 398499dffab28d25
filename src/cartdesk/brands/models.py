"""Brands: one Cartdesk can serve several stores, each with its own numbering and identity."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from cartdesk.db.base import Base, TimestampMixin


class Brand(TimestampMixin, Base):
    """A store the support team works for.

    ``next_conversation_number`` is the counter behind per-brand conversation
    numbers (#1001, #1002 …); it is only ever advanced by an atomic UPDATE.
    """

    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    support_email: Mapped[str | None] = mapped_column(String(320))
    website_url: Mapped[str | None] = mapped_column(String(500))
    default_language: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    color: Mapped[str] = mapped_column(String(16), default="#4f46e5")
    next_conversation_number: Mapped[int] = mapped_column(default=1001)
    deleted_at: Mapped[datetime | None]
