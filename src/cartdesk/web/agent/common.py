"""What every agent page shares: the inbox views, the sidebar counts, small parsers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.commerce import refunds as refunds_service
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import OPEN_STATUSES, Priority, Status


@dataclass(frozen=True)
class View:
    key: str
    label: str
    icon: str
    statuses: tuple[Status, ...]
    assignee: str | None = None  # "me" / "none": the view fixes the assignee


VIEWS: dict[str, View] = {
    v.key: v
    for v in (
        View("mine", "Mine", "user", OPEN_STATUSES, "me"),
        View("unassigned", "Unassigned", "user-x", OPEN_STATUSES, "none"),
        View("open", "All open", "inbox", OPEN_STATUSES),
        View("pending", "Pending", "clock", (Status.pending,)),
        View("solved", "Solved", "check-circle", (Status.solved,)),
    )
}
DEFAULT_VIEW = "open"

# Channels the filter offers; conversations may carry others (they still list under "All").
CHANNELS = ("email", "chat", "whatsapp", "sms", "facebook", "instagram", "twitter", "voice", "api")


def sidebar(session: Session, *, principal: Principal, active: str | None) -> dict[str, Any]:
    """The views with their counts, for the left sidebar of every page; for supervisors, how many
    refunds wait for their approval (the badge on the rail)."""
    return {
        "views": list(VIEWS.values()),
        "counts": conversations_service.count_by_view(session, principal=principal),
        "active_view": active,
        "approvals_waiting": refunds_service.count_awaiting(session) if principal.is_supervisor else 0,
    }


def int_or_none(value: str | None) -> int | None:
    """Form and query values arrive as strings; "" means "not chosen"."""
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def priority_or_none(value: str | None) -> Priority | None:
    return Priority(value) if value in Priority.__members__ else None
