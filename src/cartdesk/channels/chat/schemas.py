"""What the widget sends and receives over HTTP (the WebSocket frames are in ``protocol.py``)."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field, field_validator

HEX_COLOUR = r"^#[0-9a-fA-F]{6}$"
MAX_CHATS_PER_AGENT = 50
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class VerifiedUser(BaseModel):
    """The store's logged-in shopper, vouched for with an HMAC (see identity.py)."""

    id: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    name: str | None = Field(default=None, max_length=200)
    hash: str = Field(min_length=16, max_length=128)


class SessionIn(BaseModel):
    brand: str = Field(min_length=1, max_length=64, description="Brand slug or id")
    token: str | None = Field(default=None, max_length=512, description="The visitor token kept by the browser")
    user: VerifiedUser | None = None
    url: str | None = Field(default=None, max_length=2000)
    title: str | None = Field(default=None, max_length=300)


class IdentifyIn(BaseModel):
    """The pre-chat form: a name, an email, or both (an email links the visitor to a customer)."""

    email: EmailStr | None = None
    name: str | None = Field(default=None, max_length=200)


class OfflineIn(BaseModel):
    """The widget's form when nobody is online: an email is required, and the question."""

    email: EmailStr
    name: str | None = Field(default=None, max_length=200)
    body: str = Field(min_length=1, max_length=5000)
    client_id: str = Field(min_length=1, max_length=64)


class WidgetSettingsUpdate(BaseModel):
    enabled: bool | None = None
    color: str | None = Field(default=None, pattern=HEX_COLOUR)
    greeting: str | None = Field(default=None, max_length=300)
    offline_message: str | None = Field(default=None, max_length=300)
    position: str | None = Field(default=None, pattern=r"^(left|right)$")
    reply_time: str | None = Field(default=None, max_length=60)
    business_hours: dict[str, list[tuple[str, str]]] | None = None
    prechat_name: bool | None = None
    prechat_email: bool | None = None
    routing: bool | None = None
    # None clears it (any online agent); an omitted field leaves it as it is.
    routing_team_id: int | None = Field(default=None, ge=1)
    max_chats_per_agent: int | None = Field(default=None, ge=1, le=MAX_CHATS_PER_AGENT)

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: dict[str, list[tuple[str, str]]] | None) -> dict[str, list[tuple[str, str]]] | None:
        for day, spans in (value or {}).items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            for start, end in spans:
                if not (_hhmm(start) and _hhmm(end)) or start >= end:
                    raise ValueError(f"{day}: spans are 'HH:MM' pairs with start before end")
        return value


def _hhmm(value: str) -> bool:
    if len(value) != 5 or value[2] != ":":
        return False
    hours, minutes = value[:2], value[3:]
    return hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60
