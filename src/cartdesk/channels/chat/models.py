"""Live chat: per-brand widget settings, visitors, and the chat log a widget replays.

A *visitor* is one browser (its signed token lives in the shopper's localStorage).
It becomes a customer when it gives an email or the store vouches for it (verified
identity), and points at its current chat conversation.

The *chat log* is what the widget shows, in the order it became visible: a visitor's
message when it is stored, an agent's reply when the chat adapter delivers it. Its
``seq`` is the widget's resume cursor. Message ids cannot be the cursor, because a
reply becomes visible (delivered by a job) after later messages were already seen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cartdesk.db.base import Base, TimestampMixin


class ChatWidgetSettings(TimestampMixin, Base):
    """How one brand's widget looks and behaves. A brand without a row gets the defaults
    (``service.widget_settings``), so the widget works before anyone configures it.

    ``business_hours`` maps weekday names ("mon" … "sun") to lists of ["HH:MM", "HH:MM"]
    spans in the brand's time zone; empty means "always open". ``identity_secret`` signs
    the store's verified-identity hashes (HMAC-SHA256); it is never sent to browsers.
    """

    __tablename__ = "chat_widget_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), unique=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    color: Mapped[str] = mapped_column(String(16), default="#4f46e5")
    greeting: Mapped[str] = mapped_column(String(300), default="Hi! How can we help?")
    offline_message: Mapped[str] = mapped_column(
        String(300), default="We're away right now. Leave your email and we'll reply there."
    )
    position: Mapped[str] = mapped_column(String(8), default="right")  # "right" or "left"
    reply_time: Mapped[str] = mapped_column(String(60), default="a few minutes")
    business_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    identity_secret: Mapped[str | None] = mapped_column(String(128))
    # Which fields the pre-chat form asks for (both optional to the shopper; the offline form
    # always asks for an email, since the answer has to go somewhere).
    prechat_name: Mapped[bool] = mapped_column(default=True)
    prechat_email: Mapped[bool] = mapped_column(default=True)
    # Routing (channels/chat/routing.py): hand new chats to the least busy online agent of
    # ``routing_team_id`` (none: any agent), at most ``max_chats_per_agent`` active chats each.
    routing: Mapped[bool] = mapped_column(default=True)
    routing_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    max_chats_per_agent: Mapped[int] = mapped_column(default=3)


class ChatVisitor(TimestampMixin, Base):
    """One browser that opened a brand's widget.

    ``public_id`` is what the signed visitor token carries (never the row id).
    ``visitor_read_seq`` / ``agent_read_seq`` are the read receipts: the chat-log seq
    each side has read up to. ``last_seen_at`` is refreshed while a widget is
    connected (in batches), and decides whether a reply can reach the visitor live or
    must go by email.
    """

    __tablename__ = "chat_visitors"
    __table_args__ = (Index("ix_chat_visitors_conversation", "conversation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    verified: Mapped[bool] = mapped_column(default=False)
    current_url: Mapped[str | None] = mapped_column(String(2000))
    page_title: Mapped[str | None] = mapped_column(String(300))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    visitor_read_seq: Mapped[int] = mapped_column(default=0)
    agent_read_seq: Mapped[int] = mapped_column(default=0)
    last_seen_at: Mapped[datetime | None]


class ChatLogEntry(Base):
    """A message as the widget sees it, in delivery order (``seq``).

    One row per message (unique), written in the same transaction that made the
    message visible to the visitor; writers lock the visitor row first, so for one
    visitor rows commit in ``seq`` order and a resume never skips one.
    """

    __tablename__ = "chat_log"
    __table_args__ = (
        UniqueConstraint("message_id"),
        Index("ix_chat_log_conversation_seq", "conversation_id", "seq"),
        Index("ix_chat_log_visitor_seq", "visitor_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(primary_key=True)
    # The widget replays by visitor, so a follow-up conversation keeps the earlier chat in view.
    visitor_id: Mapped[int] = mapped_column(ForeignKey("chat_visitors.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    via: Mapped[str] = mapped_column(String(16), default="chat")  # "chat" or "email" (visitor was away)
    created_at: Mapped[datetime]


class ChatUpload(Base):
    """Which visitor uploaded an attachment, so only they can put it on a message."""

    __tablename__ = "chat_uploads"

    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("chat_visitors.id", ondelete="CASCADE"), index=True)


class ChatAgentSeen(Base):
    """When an agent last had the agent app open (a realtime connection), refreshed in batches
    while connected. An agent set "online" who has not been seen for a while counts as away,
    so the widget falls back to offline mode by itself when everyone has left."""

    __tablename__ = "chat_agent_seen"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    seen_at: Mapped[datetime]


__all__ = ["ChatAgentSeen", "ChatLogEntry", "ChatUpload", "ChatVisitor", "ChatWidgetSettings", "Text"]
