from __future__ import annotations

from dataclasses import dataclass


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
