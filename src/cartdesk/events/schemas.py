from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused a change: a user, a customer, the system, the bot, or an API token's user."""

    type: str  # "user" | "customer" | "system" | "bot"
    id: int | None = None
    name: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(type="system", id=None, name="Cartdesk")


SYSTEM = Actor.system()


class EventRead(BaseModel):
    """One audit-log entry as the API shows it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    created_at: datetime
    verb: str
    actor_type: str
    actor_id: int | None
    subject_type: str
    subject_id: int
    data: dict[str, Any]
