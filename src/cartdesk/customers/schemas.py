from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from cartdesk.customers.models import IdentityKind


class IdentityIn(BaseModel):
    kind: IdentityKind
    value: str = Field(min_length=1, max_length=320)


class CustomerCreate(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40)
    language: str | None = Field(default=None, max_length=16)
    notes: str | None = None
    is_vip: bool = False
    custom_fields: dict[str, Any] = {}
    identities: list[IdentityIn] = []


class CustomerUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40)
    language: str | None = Field(default=None, max_length=16)
    notes: str | None = None
    is_vip: bool | None = None
    custom_fields: dict[str, Any] | None = None


class CustomerMerge(BaseModel):
    source_id: int = Field(description="The customer that is absorbed")


class IdentityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: IdentityKind
    value: str
    verified: bool


class CustomerRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str | None
    email: str | None
    display_name: str


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str | None
    email: str | None
    phone: str | None
    language: str | None
    notes: str | None
    is_vip: bool
    custom_fields: dict[str, Any]
    identities: list[IdentityRead]
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime
