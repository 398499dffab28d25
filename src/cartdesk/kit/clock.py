from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The one way to read the time: timezone-aware UTC."""
    return datetime.now(UTC)
