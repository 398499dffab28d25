from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

# Lower-case words joined by hyphens.
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"


def _known_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not a known IANA time zone, e.g. Europe/Berlin") from exc
    return value


def _not_all_digits(value: str) -> str:
    if value.isdigit():
        raise ValueError("a slug cannot be all digits (it would read as a brand id)")
    return value


class BrandCreate(BaseModel):
    slug: str = Field(min_length=1, max_length=64, pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    support_email: EmailStr | None = None
    website_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    default_language: str = Field(default="en", min_length=2, max_length=16)
    timezone: str = Field(default="UTC", max_length=64)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    color: str = Field(default="#4f46e5", pattern=COLOR_PATTERN)

    _timezone = field_validator("timezone")(_known_timezone)
    _slug = field_validator("slug")(_not_all_digits)


class BrandUpdate(BaseModel):
    """The slug is left out on purpose: it is in links customers already have."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    support_email: EmailStr | None = None
    website_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    default_language: str | None = Field(default=None, min_length=2, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    color: str | None = Field(default=None, pattern=COLOR_PATTERN)

    _timezone = field_validator("timezone")(_known_timezone)


class BrandRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    slug: str
    name: str
    support_email: str | None
    website_url: str | None
    default_language: str
    timezone: str
    currency: str
    color: str
    created_at: datetime
    updated_at: datetime


class BrandList(BaseModel):
    items: list[BrandRead]
    next_cursor: str | None = None
