"""Email channel rows: mailboxes, the thread bookkeeping of email conversations, and quarantine.

A mailbox belongs to one brand. It receives mail through IMAP polling, Cartdesk's
own SMTP receiver (``inbound_address`` for forwarding) or the HTTP inbound webhook
(``inbound_secret``), and sends through its SMTP server. Passwords are stored
encrypted (``kit/secrets.py``); the ``*_password_enc`` columns hold ciphertext only.

Every Message-ID we send or receive is kept on ``messages.external_id`` (channel
``email``), unique, which is what both dedupe and In-Reply-To/References threading
look up; this module adds what messages cannot hold.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cartdesk.db.base import Base, TimestampMixin


class Security(enum.StrEnum):
    ssl = "ssl"  # TLS from the first byte (IMAPS 993, SMTPS 465)
    starttls = "starttls"
    none = "none"  # loopback and tests only


class Mailbox(TimestampMixin, Base):
    """One support address. The IMAP server itself keeps the fetch state: a message is
    flagged (or moved) only after it was committed here, so a crash re-fetches rather
    than skips, and Message-ID dedupe makes the re-fetch harmless. ``last_*`` columns
    are health facts for the admin pages."""

    __tablename__ = "email_mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(320), unique=True)  # support@store.example
    from_name: Mapped[str] = mapped_column(String(200), default="")
    signature: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    # Forwarding to Cartdesk's SMTP receiver delivers to this address.
    inbound_address: Mapped[str | None] = mapped_column(String(320), unique=True)
    # The HTTP inbound webhook URL carries this token.
    inbound_secret: Mapped[str] = mapped_column(String(64), unique=True)

    imap_host: Mapped[str | None] = mapped_column(String(255))
    imap_port: Mapped[int] = mapped_column(default=993)
    imap_security: Mapped[Security] = mapped_column(String(16), default=Security.ssl)
    imap_username: Mapped[str | None] = mapped_column(String(320))
    imap_password_enc: Mapped[str | None] = mapped_column(Text)
    imap_folder: Mapped[str] = mapped_column(String(200), default="INBOX")
    # After commit a fetched message is flagged (and moved here when set).
    imap_done_folder: Mapped[str | None] = mapped_column(String(200))

    smtp_host: Mapped[str | None] = mapped_column(String(255))
    smtp_port: Mapped[int] = mapped_column(default=587)
    smtp_security: Mapped[Security] = mapped_column(String(16), default=Security.starttls)
    smtp_username: Mapped[str | None] = mapped_column(String(320))
    smtp_password_enc: Mapped[str | None] = mapped_column(Text)

    # Threading and noise rules.
    thread_by_subject: Mapped[bool] = mapped_column(default=True)
    order_window_days: Mapped[int] = mapped_column(default=14)
    max_per_sender_per_hour: Mapped[int] = mapped_column(default=30)
    accept_unknown_senders: Mapped[bool] = mapped_column(default=True)
    drop_spam: Mapped[bool] = mapped_column(default=True)
    # Answer a customer's first mail with an acknowledgement (templates/acknowledgement.txt).
    acknowledge_new: Mapped[bool] = mapped_column(default=False)

    last_fetch_at: Mapped[datetime | None]
    last_fetch_count: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    idle_supported: Mapped[bool | None]
    # Where the poller got to, for servers that refuse our "filed" keyword: \\Seen alone would
    # skip mail a person read in webmail before we fetched it. Valid for one UIDVALIDITY.
    imap_uid_validity: Mapped[int | None] = mapped_column(BigInteger)
    imap_last_uid: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()

    @property
    def local_part(self) -> str:
        return self.address.rpartition("@")[0].lower()

    @property
    def has_imap(self) -> bool:
        return bool(self.imap_host and self.imap_username)

    @property
    def has_smtp(self) -> bool:
        return bool(self.smtp_host)


class EmailThread(Base):
    """The email side of one conversation: which mailbox answers it, the reply token in
    our Reply-To (``support+<token>@…``), and the order numbers its mails cited."""

    __tablename__ = "email_threads"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("email_mailboxes.id", ondelete="CASCADE"), index=True)
    reply_token: Mapped[str] = mapped_column(String(32), unique=True)
    customer_address: Mapped[str] = mapped_column(String(320))
    order_numbers: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]


class QuarantineReason(enum.StrEnum):
    unparseable = "unparseable"  # the parser or the filing flow raised
    too_large = "too_large"
    loop = "loop"  # auto-reply, bulk, mail from our own addresses
    bounce = "bounce"  # a DSN (also marks our outbound message failed)
    rate_limited = "rate_limited"
    spam = "spam"
    unknown_sender = "unknown_sender"
    no_mailbox = "no_mailbox"


class Quarantine(Base):
    """Mail that did not become a message, with its raw bytes and why.

    Nothing here blocks the mailbox: the fetch moves on and an admin looks later.
    ``message_key`` (Message-ID or the raw bytes' hash) makes a re-fetch harmless.
    """

    __tablename__ = "email_quarantine"
    __table_args__ = (Index("ix_email_quarantine_mailbox_created", "mailbox_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("email_mailboxes.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16))  # imap / smtp / webhook
    reason: Mapped[QuarantineReason] = mapped_column(String(32))
    error: Mapped[str] = mapped_column(Text, default="")
    message_key: Mapped[str] = mapped_column(String(500), unique=True)
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(500))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]
    created_at: Mapped[datetime]
    # Last time an admin downloaded it: the retention purge spares mail someone is looking at.
    viewed_at: Mapped[datetime | None]


__all__ = ["EmailThread", "Mailbox", "Quarantine", "QuarantineReason", "Security"]
