from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cartdesk.conversations.models import Direction, Status


class ConversationHit(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    number: int
    brand_id: int
    subject: str
    status: Status
    customer_id: int
    last_activity_at: datetime
    highlight: str = Field(description="The subject as HTML-escaped text with matches in <mark>")


class MessageHit(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    conversation_id: int
    conversation_number: int
    conversation_subject: str
    direction: Direction
    created_at: datetime
    snippet: str = Field(description="An excerpt as HTML-escaped text with matches in <mark>")


class CustomerHit(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str | None
    email: str | None
    phone: str | None
    display_name: str


class SearchResults(BaseModel):
    conversations: list[ConversationHit]
    messages: list[MessageHit]
    customers: list[CustomerHit]
