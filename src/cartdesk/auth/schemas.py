from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from cartdesk.auth.models import Availability, Role
from cartdesk.events.schemas import Actor

# Scopes a token can carry. A token can never do more than its owner's role allows.
SCOPES = (
    "conversations:read",
    "conversations:write",
    "customers:read",
    "customers:write",
    "kb:read",
    "kb:write",
    "orders:read",
    "orders:write",
    "admin",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a user, through a session cookie or an API token."""

    user_id: int
    name: str
    email: str
    role: Role
    team_ids: tuple[int, ...] = ()
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(SCOPES))
    via_token: bool = False

    @property
    def actor(self) -> Actor:
        return Actor(type="user", id=self.user_id, name=self.name)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    @property
    def is_supervisor(self) -> bool:
        return self.role in (Role.admin, Role.supervisor)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


class UserCreate(BaseModel):
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.agent
    password: str | None = Field(default=None, min_length=8, max_length=200)
    team_ids: list[int] = []


class UserUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    is_active: bool | None = None
    availability: Availability | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)
    team_ids: list[int] | None = None


class TeamRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    name: str
    role: Role
    is_active: bool
    availability: Availability
    teams: list[TeamRef] = []
    created_at: datetime


class UserRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    email: str


class TeamCreate(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=500)
    member_ids: list[int] = []


class TeamUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=500)
    member_ids: list[int] | None = None


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    description: str | None
    members: list[UserRef] = []


class TokenCreate(BaseModel):
    name: str = Field(default="API token", min_length=1, max_length=120)
    scopes: list[str] | None = None
    expires_at: datetime | None = None


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str  # shown once
