"""Input and output shapes of mailboxes (API and admin forms). Passwords are write-only."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from cartdesk.channels.email.models import Security


class MailboxFields(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    from_name: str | None = Field(default=None, max_length=200)
    signature: str | None = Field(default=None, max_length=5000)
    enabled: bool | None = None
    inbound_address: EmailStr | None = None
    imap_host: str | None = Field(default=None, max_length=255)
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    imap_security: Security | None = None
    imap_username: str | None = Field(default=None, max_length=320)
    imap_password: str | None = Field(default=None, max_length=500)
    imap_folder: str | None = Field(default=None, min_length=1, max_length=200)
    imap_done_folder: str | None = Field(default=None, max_length=200)
    smtp_host: str | None = Field(default=None, max_length=255)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: Security | None = None
    smtp_username: str | None = Field(default=None, max_length=320)
    smtp_password: str | None = Field(default=None, max_length=500)
    thread_by_subject: bool | None = None
    order_window_days: int | None = Field(default=None, ge=0, le=365)
    max_per_sender_per_hour: int | None = Field(default=None, ge=1, le=10_000)
    accept_unknown_senders: bool | None = None
    drop_spam: bool | None = None
    acknowledge_new: bool | None = None


class MailboxCreate(MailboxFields):
    brand: str | int | None = Field(default=None, description="Brand slug or id; the default brand when omitted")
    address: EmailStr
    name: str = Field(min_length=1, max_length=200)


class MailboxUpdate(MailboxFields):
    pass


class MailboxRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    name: str
    address: str
    from_name: str
    signature: str
    enabled: bool
    inbound_address: str | None
    imap_host: str | None
    imap_port: int
    imap_security: Security
    imap_username: str | None
    imap_folder: str
    imap_done_folder: str | None
    smtp_host: str | None
    smtp_port: int
    smtp_security: Security
    smtp_username: str | None
    thread_by_subject: bool
    order_window_days: int
    max_per_sender_per_hour: int
    accept_unknown_senders: bool
    drop_spam: bool
    acknowledge_new: bool
    last_fetch_at: datetime | None
    last_fetch_count: int
    last_error: str | None
    last_error_at: datetime | None
    idle_supported: bool | None


class QuarantineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    mailbox_id: int | None
    source: str
    reason: str
    error: str
    sender: str | None
    subject: str | None
    size: int
    created_at: datetime


class IngestRead(BaseModel):
    outcome: str
    conversation_id: int | None = None
    message_id: int | None = None
    quarantine_id: int | None = None
    reason: str | None = None


class CheckRead(BaseModel):
    ok: bool | None
    detail: str


class ConnectionTestRead(BaseModel):
    imap: CheckRead
    smtp: CheckRead
