"""Conversations as JSON lines: the line format, and exporting.

One line is one conversation with its customer, messages, tags, status and
timestamps. Every exported message carries a stable key (its provider id, or
``cartdesk:<brand>:<number>:<message id>``), and import (``importer.py``) stores
that key as the message's external id, so importing the same file again creates
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import User
from cartdesk.conversations.models import AuthorType, Conversation, Direction, Message, Priority, Status
from cartdesk.customers.models import IdentityKind
from cartdesk.kit.html import text_to_html

# --- the format ------------------------------------------------------------------------------------


def _utc(value: datetime | None) -> datetime | None:
    # A file without offsets means UTC; the database only takes aware times.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class IdentityLine(BaseModel):
    kind: IdentityKind
    value: str = Field(min_length=1, max_length=320)


class CustomerLine(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    identities: list[IdentityLine] = []


class BrandLine(BaseModel):
    slug: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=200)


class MessageLine(BaseModel):
    external_id: str | None = Field(default=None, max_length=500)
    channel: str | None = Field(default=None, max_length=32)
    direction: Direction
    author_type: AuthorType
    author: str | None = Field(default=None, description="Email of the agent who wrote it")
    body_text: str = ""
    body_html: str | None = None
    created_at: datetime

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime | None:
        return _utc(value)

    @model_validator(mode="after")
    def _has_body(self) -> MessageLine:
        if not self.body_text.strip() and not (self.body_html or "").strip():
            raise ValueError("a message needs body_text or body_html")
        return self

    @property
    def html(self) -> str | None:
        """HTML worth keeping: not the plain text's own rendering, which the services derive again."""
        if self.body_html is None or self.body_html == text_to_html(self.body_text.strip()):
            return None
        return self.body_html


class ConversationLine(BaseModel):
    brand: BrandLine | None = None
    number: int | None = None
    subject: str = Field(default="", max_length=500)
    status: Status = Status.open
    priority: Priority = Priority.normal
    channel: str = Field(default="api", max_length=32)
    custom_fields: dict[str, Any] = {}
    customer: CustomerLine
    assignee: str | None = None
    team: str | None = None
    tags: list[str] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None
    first_response_at: datetime | None = None
    solved_at: datetime | None = None
    closed_at: datetime | None = None
    reopened_count: int = Field(default=0, ge=0)
    messages: list[MessageLine] = Field(min_length=1)

    @field_validator("created_at", "updated_at", "first_response_at", "solved_at", "closed_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


# --- export ----------------------------------------------------------------------------------------

def message_key(message: Message, *, brand: str, number: int) -> str:
    return message.external_id or f"cartdesk:{brand}:{number}:{message.id}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def as_line(conversation: Conversation, messages: Sequence[Message], authors: dict[int, str]) -> dict[str, Any]:
    customer = conversation.customer
    brand = conversation.brand
    return {
        "brand": {"slug": brand.slug, "name": brand.name},
        "number": conversation.number,
        "subject": conversation.subject,
        "status": str(conversation.status),
        "priority": str(conversation.priority),
        "channel": conversation.channel,
        "custom_fields": conversation.custom_fields,
        "customer": {
            "name": customer.name, "email": customer.email, "phone": customer.phone,
            "identities": [{"kind": str(i.kind), "value": i.value} for i in customer.identities
                           if i.kind not in (IdentityKind.email, IdentityKind.phone)],
        },
        "assignee": conversation.assignee.email if conversation.assignee else None,
        "team": conversation.team.name if conversation.team else None,
        "tags": conversation.tag_names,
        "created_at": _iso(conversation.created_at),
        "updated_at": _iso(conversation.updated_at),
        "last_activity_at": _iso(conversation.last_activity_at),
        "first_response_at": _iso(conversation.first_response_at),
        "solved_at": _iso(conversation.solved_at),
        "closed_at": _iso(conversation.closed_at),
        "reopened_count": conversation.reopened_count,
        "messages": [
            {
                "external_id": message_key(m, brand=brand.slug, number=conversation.number),
                "channel": m.channel,
                "direction": str(m.direction),
                "author_type": str(m.author_type),
                "author": authors.get(m.author_user_id) if m.author_user_id else None,
                "body_text": m.body_text,
                "body_html": m.body_html,
                "created_at": _iso(m.created_at),
            }
            for m in messages
        ],
    }


def export_lines(session: Session, *, page: int = 500) -> Iterator[dict[str, Any]]:
    """Every conversation (merged ones live on in their survivor), oldest first, paged by id."""
    authors = dict(session.execute(select(User.id, User.email)).all())
    last_id = 0
    while True:
        conversations = session.scalars(
            select(Conversation)
            .where(Conversation.id > last_id, Conversation.merged_into_id.is_(None))
            .order_by(Conversation.id)
            .limit(page)
        ).unique().all()
        if not conversations:
            return
        by_conversation: dict[int, list[Message]] = {c.id: [] for c in conversations}
        messages = session.scalars(
            select(Message).where(Message.conversation_id.in_(list(by_conversation))).order_by(Message.id)
        ).all()
        for message in messages:
            by_conversation[message.conversation_id].append(message)
        for conversation in conversations:
            yield as_line(conversation, by_conversation[conversation.id], authors)
        last_id = conversations[-1].id
        session.expunge_all()  # a million conversations must not pile up in memory


def write_export(session: Session, stream: TextIO) -> int:
    count = 0
    for line in export_lines(session):
        stream.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count
