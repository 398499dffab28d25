"""People who work in Cartdesk, their teams, and the API tokens they hold."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cartdesk.db.base import Base, TimestampMixin


class Role(enum.StrEnum):
    admin = "admin"
    supervisor = "supervisor"
    agent = "agent"


class Availability(enum.StrEnum):
    online = "online"
    away = "away"
    offline = "offline"


class User(TimestampMixin, Base):
    """An agent, supervisor or admin. ``password_hash`` is argon2id; never the password."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(String(16), default=Role.agent)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    availability: Mapped[Availability] = mapped_column(String(16), default=Availability.offline)
    # Bumped on password change or logout-everywhere: older sessions stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    last_seen_at: Mapped[datetime | None]

    teams: Mapped[list[Team]] = relationship(secondary="team_members", back_populates="members", lazy="select")

    @property
    def initials(self) -> str:
        parts = [p for p in self.name.split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or self.email[:2].upper()


class Team(TimestampMixin, Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str | None] = mapped_column(String(500))

    members: Mapped[list[User]] = relationship(secondary="team_members", back_populates="teams", lazy="select")


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class ApiToken(TimestampMixin, Base):
    """A bearer token for the REST API.

    Only the SHA-256 of the token is stored (tokens are 256 random bits, so a slow
    hash adds nothing); ``prefix`` is the first characters, shown so a person can
    tell their tokens apart. ``scopes`` limit what the token may do beyond the
    owner's role.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")
