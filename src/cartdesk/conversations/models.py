"""Conversations, their messages and attachments, and tags.

A conversation is one customer case. Its numbers are per brand; its status moves
through :class:`Status` by the rules in ``service.py`` only.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cartdesk.db.base import Base, TimestampMixin

if TYPE_CHECKING:
    from cartdesk.auth.models import Team, User
    from cartdesk.brands.models import Brand
    from cartdesk.customers.models import Customer


class Status(enum.StrEnum):
    new = "new"  # nobody has touched it yet
    open = "open"  # the team owes the customer an answer
    pending = "pending"  # waiting on the customer
    on_hold = "on_hold"  # waiting on a third party (carrier, warehouse)
    solved = "solved"  # answered; a customer reply reopens it
    closed = "closed"  # final; a customer reply starts a follow-up instead


OPEN_STATUSES = (Status.new, Status.open, Status.pending, Status.on_hold)


class Priority(enum.StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class Direction(enum.StrEnum):
    inbound = "inbound"  # from the customer
    outbound = "outbound"  # to the customer
    internal = "internal"  # a note only the team sees


class AuthorType(enum.StrEnum):
    customer = "customer"
    agent = "agent"
    bot = "bot"
    system = "system"


class DeliveryStatus(enum.StrEnum):
    received = "received"  # inbound messages
    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    not_applicable = "n/a"  # notes and system messages


# Written as literal SQL in both the index and the queries that use it: a partial index
# serves a query only when the planner can see the query implies the index's condition,
# which it cannot through bound parameters.
CHAT_QUEUE_WHERE = "assignee_id IS NULL AND status IN ('new', 'open') AND merged_into_id IS NULL"


class Conversation(TimestampMixin, Base):
    """One case. ``last_activity_at`` orders the inbox; ``first_response_at``,
    ``solved_at`` and ``reopened_count`` are kept by the service for KPIs.
    ``merged_into_id`` points a merged conversation at its survivor."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("brand_id", "number"),
        # The inbox: a status view ordered by recent activity, paged by keyset.
        Index("ix_conversations_status_activity", "status", "last_activity_at", "id"),
        Index("ix_conversations_assignee_activity", "assignee_id", "status", "last_activity_at", "id"),
        Index("ix_conversations_team_activity", "team_id", "status", "last_activity_at", "id"),
        Index("ix_conversations_customer", "customer_id", "last_activity_at"),
        Index("ix_conversations_channel_activity", "channel", "last_activity_at", "id"),
        Index("ix_conversations_activity", "last_activity_at", "id"),
        # Unowned active conversations by channel, oldest first: the chat queue (channels/chat/
        # routing.py). Partial, so it holds only those, not the whole inbox (migration 0012).
        Index("ix_conversations_chat_queue", "channel", "id",
              sqlite_where=text(CHAT_QUEUE_WHERE), postgresql_where=text(CHAT_QUEUE_WHERE)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    number: Mapped[int]
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    subject: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[Status] = mapped_column(String(16), default=Status.new)
    priority: Mapped[Priority] = mapped_column(String(16), default=Priority.normal)
    channel: Mapped[str] = mapped_column(String(32))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    language: Mapped[str | None] = mapped_column(String(16))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Denormalised for the inbox list so a page is one indexed query.
    preview: Mapped[str] = mapped_column(String(300), default="")
    message_count: Mapped[int] = mapped_column(default=0)
    last_activity_at: Mapped[datetime]
    last_customer_message_at: Mapped[datetime | None]
    last_agent_message_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    solved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reopened_count: Mapped[int] = mapped_column(default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))

    brand: Mapped[Brand] = relationship(lazy="select")
    customer: Mapped[Customer] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(lazy="joined")
    team: Mapped[Team | None] = relationship(lazy="select")
    tags: Mapped[list[Tag]] = relationship(secondary="conversation_tags", lazy="select", order_by="Tag.name")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", lazy="raise", order_by="Message.id"
    )

    @property
    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Message(Base):
    """One message in a thread. ``body_text`` is always present (search, previews,
    plain-text mail); ``body_html`` is sanitised on the way in. ``external_id`` is
    the provider's id (email Message-ID, chat frame id, API idempotency key): it is
    unique per channel, so an inbound delivered twice is stored once."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_messages_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    direction: Mapped[Direction] = mapped_column(String(16))
    author_type: Mapped[AuthorType] = mapped_column(String(16))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(500))
    delivery_status: Mapped[DeliveryStatus] = mapped_column(String(16))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]

    conversation: Mapped[Conversation] = relationship(back_populates="messages", lazy="raise")
    author_user: Mapped[User | None] = relationship(lazy="joined")
    # Set, never read: a new customer and their first message go out in one flush.
    author_customer: Mapped[Customer | None] = relationship(lazy="raise")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="message", lazy="select")

    @property
    def is_note(self) -> bool:
        return self.direction == Direction.internal


class Attachment(Base):
    """A file on a message. The bytes live in the attachment store under ``storage_key``."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(500))
    content_id: Mapped[str | None] = mapped_column(String(300))  # for inline images (cid:)
    # Who uploaded it through the API; until it is on a message only they may see or attach it.
    uploaded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime]

    message: Mapped[Message | None] = relationship(back_populates="attachments")


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    color: Mapped[str | None] = mapped_column(String(16))


class ConversationTag(Base):
    __tablename__ = "conversation_tags"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True)


__all__ = [
    "OPEN_STATUSES",
    "Attachment",
    "AuthorType",
    "Conversation",
    "ConversationTag",
    "DeliveryStatus",
    "Direction",
    "Message",
    "Priority",
    "Status",
    "Tag",
    "Text",
]
