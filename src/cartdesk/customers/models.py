"""Customers of the store and the addresses and handles we know them by."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cartdesk.db.base import Base, TimestampMixin


class IdentityKind(enum.StrEnum):
    email = "email"
    phone = "phone"
    facebook = "facebook"
    instagram = "instagram"
    whatsapp = "whatsapp"
    twitter = "twitter"
    chat = "chat"  # a live-chat visitor token
    external = "external"  # the store platform's customer id


class Customer(TimestampMixin, Base):
    """A person who writes to the store.

    ``email`` and ``phone`` are the primary contact copies for display and search;
    the authoritative address book is :class:`CustomerIdentity`. After a merge the
    absorbed customer keeps its row with ``merged_into_id`` set so that old links
    and API ids still resolve.
    """

    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_email", "email"), Index("ix_customers_name", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    is_vip: Mapped[bool] = mapped_column(default=False)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    deleted_at: Mapped[datetime | None]

    identities: Mapped[list[CustomerIdentity]] = relationship(
        back_populates="customer", lazy="select", cascade="all, delete-orphan"
    )

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.phone or f"Customer {self.id}"


class CustomerIdentity(Base):
    """One address or handle, unique per kind: the same email is one customer everywhere."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[IdentityKind] = mapped_column(String(16))
    # Normalised: emails lower-cased, phones in E.164 where we can tell.
    value: Mapped[str] = mapped_column(String(320))
    verified: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship(back_populates="identities")
