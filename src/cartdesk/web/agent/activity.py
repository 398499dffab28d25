"""The conversation's history, told in sentences an agent can read at a glance.

Events store ids and before/after values; this turns them into "Maria changed the
status from Open to Pending". Message events are left out: the thread shows them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from cartdesk.events.models import Event
from cartdesk.kit.money import format_money
from cartdesk.web.templating import CHANNEL_LABELS, PRIORITY_LABELS, STATUS_LABELS


@dataclass(frozen=True)
class Line:
    icon: str
    text: Markup
    at: datetime


@dataclass(frozen=True)
class Names:
    users: Mapping[int, str]
    teams: Mapping[int, str]
    customer: str


def _b(value: Any) -> Markup:
    return Markup("<strong>{}</strong>").format(value)


def _actor(event: Event, names: Names) -> Markup:
    if event.actor_type == "user" and event.actor_id in names.users:
        return _b(names.users[event.actor_id])
    if event.actor_type == "customer":
        return _b(names.customer)
    if event.actor_type == "bot":
        return _b("The bot")
    return _b("Cartdesk")


def _before_after(data: dict[str, Any], key: str) -> tuple[Any, Any]:
    change = data.get(key) or {}
    return change.get("before"), change.get("after")


def _describe(event: Event, names: Names) -> tuple[str, Markup] | None:
    who, data = _actor(event, names), event.data or {}
    if event.verb == "conversation.created":
        channel = CHANNEL_LABELS.get(data.get("channel", ""), data.get("channel") or "API")
        if data.get("follow_up_of"):
            return "sparkle", Markup("{} opened a follow-up via {}").format(who, channel)
        return "sparkle", Markup("{} started the conversation via {}").format(who, channel)
    if event.verb == "conversation.status_changed":
        before, after = _before_after(data, "status")
        label = _b(STATUS_LABELS.get(after, after))
        if data.get("reason") == "customer_reply":
            return "rotate", Markup("{}'s reply reopened it").format(who)
        return "check-circle" if after == "solved" else "clock", Markup("{} changed the status from {} to {}").format(
            who, STATUS_LABELS.get(before, before), label
        )
    if event.verb == "conversation.assigned":
        _, after = _before_after(data, "assignee_id")
        if after is None:
            return "user-x", Markup("{} unassigned it").format(who)
        if after == event.actor_id and event.actor_type == "user":
            return "user", Markup("{} took it").format(who)
        return "user", Markup("{} assigned it to {}").format(who, _b(names.users.get(after, f"user {after}")))
    if event.verb == "conversation.tagged":
        before, after = _before_after(data, "tags")
        added = sorted(set(after or []) - set(before or []))
        removed = sorted(set(before or []) - set(after or []))
        parts = [Markup("added {}").format(", ".join(added))] if added else []
        parts += [Markup("removed {}").format(", ".join(removed))] if removed else []
        return "tag", Markup("{} {} tags").format(who, Markup(" and ").join(parts) or "changed")
    if event.verb == "conversation.merged":
        return "merge", Markup("{} merged #{} into this conversation").format(who, data.get("source_number", "?"))
    if event.verb == "conversation.updated":
        return _describe_update(who, data, names)
    if event.verb in _STORE:
        icon, text = _STORE[event.verb]
        money = format_money(Decimal(data["amount"]), data.get("currency", "USD")) if data.get("amount") else ""
        return icon, Markup(text).format(who=who, number=_b(data.get("number", "?")), amount=_b(money),
                                         rma=_b(data.get("rma", "?")), after=data.get("after", ""))
    return None


# Order actions taken in the conversation (commerce events that carry its conversation id).
_STORE = {
    "refund.created": ("rotate", "{who} refunded {amount} on order {number}"),
    "refund.approval_requested": ("clock", "{who} asked a supervisor to approve {amount} on order {number}"),
    "refund.approved": ("check-circle", "{who} approved the refund of {amount} on order {number}"),
    "refund.declined": ("x", "{who} declined the refund of {amount} on order {number}"),
    "refund.failed": ("alert", "The refund of {amount} on order {number} failed in the shop"),
    "order.cancelled": ("x", "{who} cancelled order {number}"),
    "order.address_changed": ("send", "{who} changed the address of order {number}"),
    "order.reshipped": ("send", "{who} reshipped order {number}"),
    "return.created": ("rotate", "{who} opened return {rma}"),
    "return.status_changed": ("rotate", "{who} marked return {rma} as {after}"),
}


def _describe_update(who: Markup, data: dict[str, Any], names: Names) -> tuple[str, Markup] | None:
    if "priority" in data:
        _, after = _before_after(data, "priority")
        return "flag", Markup("{} set the priority to {}").format(who, _b(PRIORITY_LABELS.get(after, after)))
    if "team_id" in data:
        _, after = _before_after(data, "team_id")
        if after is None:
            return "users", Markup("{} removed the team").format(who)
        return "users", Markup("{} moved it to {}").format(who, _b(names.teams.get(after, f"team {after}")))
    if "subject" in data:
        _, after = _before_after(data, "subject")
        return "note", Markup("{} renamed it to {}").format(who, _b(after))
    field = next(iter(data), "details")
    return "activity", Markup("{} updated {}").format(who, escape(field.replace("_", " ")))


def lines(events: Sequence[Event], names: Names) -> list[Line]:
    """Newest first, message events left out."""
    out = []
    for event in events:
        described = _describe(event, names)
        if described is not None:
            out.append(Line(icon=described[0], text=described[1], at=event.created_at))
    return list(reversed(out))
