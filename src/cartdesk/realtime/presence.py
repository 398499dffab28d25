"""Who is looking at which conversation, and who is typing in it.

Presence is kept per connection (one browser tab), so an agent with two tabs on
the same conversation stays a viewer until both leave. Entries expire on their
own when the heartbeats stop (a laptop lid closed, a network gone), and the
typing flag expires sooner, because a "stopped typing" frame is easily lost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PRESENCE_TTL_SECONDS = 30.0
TYPING_TTL_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person behind a connection, as other agents see them."""

    user_id: int
    name: str
    initials: str


@dataclass(slots=True)
class Entry:
    """One connection viewing one conversation. Times are wall-clock seconds
    (``time.time()``) because, with Redis, several processes compare them."""

    viewer: Viewer
    typing: bool
    expires_at: float
    typing_until: float

    def live_typing(self, now: float) -> bool:
        return self.typing and self.typing_until > now

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self.viewer), "typing": self.typing, "expires_at": self.expires_at,
                "typing_until": self.typing_until}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        viewer = Viewer(user_id=int(data["user_id"]), name=str(data["name"]), initials=str(data["initials"]))
        return cls(viewer=viewer, typing=bool(data["typing"]), expires_at=float(data["expires_at"]),
                   typing_until=float(data["typing_until"]))


def viewers_of(entries: list[Entry], now: float) -> list[dict[str, Any]]:
    """The ``viewers`` list of a presence frame: one per user, typing if any of their tabs is."""
    by_user: dict[int, dict[str, Any]] = {}
    for entry in entries:
        if entry.expires_at <= now:
            continue
        v = entry.viewer
        current = by_user.get(v.user_id)
        typing = entry.live_typing(now)
        if current is None:
            by_user[v.user_id] = {"user_id": v.user_id, "name": v.name, "initials": v.initials, "typing": typing}
        elif typing:
            current["typing"] = True
    return sorted(by_user.values(), key=lambda item: (item["name"].lower(), item["user_id"]))


def presence_frame(conversation_id: int, viewers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "presence", "conversation_id": conversation_id, "viewers": viewers}


def initials_for(name: str, fallback: str = "?") -> str:
    parts = [p for p in name.split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or fallback[:2].upper()
