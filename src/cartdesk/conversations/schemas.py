from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, EmailStr, Field, field_validator

from cartdesk.auth.schemas import UserRef
from cartdesk.conversations.models import AuthorType, DeliveryStatus, Direction, Priority, Status
from cartdesk.customers.schemas import CustomerRead, CustomerRef

MAX_BODY = 100_000


class CustomerIn(BaseModel):
    email: EmailStr | None = None
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    id: int | None = None


class FirstMessageIn(BaseModel):
    body: str = Field(min_length=1, max_length=MAX_BODY)
    html: str | None = Field(default=None, max_length=MAX_BODY * 4)
    external_id: str | None = Field(default=None, max_length=500)


class ConversationCreate(BaseModel):
    customer: CustomerIn
    subject: str = Field(default="", max_length=500)
    message: FirstMessageIn
    channel: str = Field(default="api", max_length=32)
    brand: str | int | None = Field(default=None, description="Brand slug or id; the default brand when omitted")
    priority: Priority = Priority.normal
    tags: list[str] = []
    custom_fields: dict[str, Any] = {}

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        # Checked here, before anything is written (a too-long tag would otherwise
        # fail only at the database, and only on PostgreSQL).
        return _check_tags(value) or []


def _check_tags(value: list[str] | None) -> list[str] | None:
    for tag in value or []:
        if not tag.strip() or len(tag) > 64:
            raise ValueError("tags must be 1 to 64 characters")
    return value


class ConversationUpdate(BaseModel):
    status: Status | None = None
    priority: Priority | None = None
    assignee_id: int | None = None
    team_id: int | None = None
    tags: list[str] | None = None
    subject: str | None = Field(default=None, max_length=500)
    custom_fields: dict[str, Any] | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return _check_tags(value)


class MessageCreate(BaseModel):
    kind: Literal["reply", "note"] = "reply"
    body: str = Field(min_length=1, max_length=MAX_BODY)
    html: str | None = Field(default=None, max_length=MAX_BODY * 4)
    status: Status | None = Field(default=None, description="Status to set with a reply (default: pending)")
    attachment_ids: list[int] = []


class MergeIn(BaseModel):
    source_id: int = Field(description="The conversation that is merged into this one")


class TagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str


class AttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    content_type: str
    size: int


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    conversation_id: int
    channel: str
    direction: Direction
    author_type: AuthorType
    author_user_id: int | None
    author_customer_id: int | None
    body_text: str
    body_html: str | None
    delivery_status: DeliveryStatus
    delivery_error: str | None
    attachments: list[AttachmentRead] = []
    created_at: datetime


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    number: int
    brand_id: int
    subject: str
    status: Status
    priority: Priority
    channel: str
    customer: CustomerRef
    assignee: UserRef | None
    team_id: int | None
    tags: list[str] = Field(validation_alias=AliasChoices("tag_names", "tags"))
    language: str | None
    preview: str
    message_count: int
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime
    first_response_at: datetime | None
    solved_at: datetime | None
    reopened_count: int
    merged_into_id: int | None


class ConversationDetail(ConversationRead):
    customer: CustomerRead  # type: ignore[assignment]
    messages: list[MessageRead]


class ConversationCreated(BaseModel):
    id: int
    number: int
    brand_id: int
    status: Status
    customer_id: int
    message_id: int


class ConversationFilters(BaseModel):
    status: list[Status] | None = None
    assignee: str | None = Field(default=None, description="user id, 'me' or 'none'")
    team: int | None = None
    tag: str | None = None
    channel: str | None = None
    customer: int | None = None
    brand: int | None = None
    priority: Priority | None = None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
