"""The rows ``conversations.service`` would write for a plan, computed without the ORM.

This is the bulk loader's stand-in for replaying a plan: the same conversation
fields, the same messages and the same audit events in the same order and shape
(tests/cli/test_demo.py replays plans both ways and compares). Rows are tuples in
the column order of ``COLUMNS``, already encoded for the database driver, because
at a million conversations every Python step per value counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cartdesk.conversations.service import PREVIEW_LEN
from cartdesk.demo.plans import Plan
from cartdesk.kit.html import text_to_html

COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("id", "name", "email", "phone", "language", "timezone", "notes", "is_vip", "custom_fields",
                  "merged_into_id", "deleted_at", "created_at", "updated_at"),
    "customer_identities": ("id", "customer_id", "kind", "value", "verified", "created_at"),
    "conversations": ("id", "brand_id", "number", "customer_id", "subject", "status", "priority", "channel",
                      "assignee_id", "team_id", "language", "custom_fields", "preview", "message_count",
                      "last_activity_at", "last_customer_message_at", "last_agent_message_at", "first_response_at",
                      "solved_at", "closed_at", "reopened_count", "merged_into_id", "created_at", "updated_at"),
    "messages": ("id", "conversation_id", "channel", "direction", "author_type", "author_user_id",
                 "author_customer_id", "body_text", "body_html", "external_id", "delivery_status",
                 "delivery_error", "meta", "created_at"),
    "events": ("id", "created_at", "verb", "actor_type", "actor_id", "subject_type", "subject_id",
               "conversation_id", "brand_id", "data"),
    "conversation_tags": ("conversation_id", "tag_id"),
}


def sqlite_time(value: datetime) -> str:
    # The text SQLAlchemy stores for a UTC datetime on SQLite ("YYYY-MM-DD HH:MM:SS.ffffff").
    # Bulk times derive from an aware UTC "now"; isoformat is far quicker than strftime.
    return value.isoformat(" ", "microseconds")[:26]


def same_time(value: datetime) -> datetime:
    return value  # PostgreSQL's driver takes aware datetimes as they are


_encode_json = json.JSONEncoder(check_circular=False).encode
_string = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def encode_json(value: Any) -> str:
    return _encode_json(value)


def _id(value: int | None) -> str:
    return "null" if value is None else str(value)


# The audit events' data, spelled out: byte for byte what json.dumps makes of the same
# dicts, at a fraction of the cost (the bulk load writes about eight events per conversation).
def _message_data(direction: str, author_type: str, preview: str) -> str:
    return f'{{"direction": "{direction}", "author_type": "{author_type}", "preview": {_string(preview)}}}'


def _status_data(before: str, after: str, reason: str | None) -> str:
    tail = f', "reason": "{reason}"' if reason else ""
    return f'{{"status": {{"before": "{before}", "after": "{after}"}}{tail}}}'


def _change_data(field: str, before: int | None, after: int | None) -> str:
    return f'{{"{field}": {{"before": {_id(before)}, "after": {_id(after)}}}}}'


@dataclass
class Context:
    """Ids the rows point at, read once from the database (picklable for a helper process)."""

    brand_ids: dict[str, int]
    next_numbers: dict[str, int]
    user_ids: dict[str, int]
    team_ids: dict[str, int]
    tag_ids: dict[str, int]


@dataclass
class Ids:
    """The next free id per table; rows carry explicit ids so they can point at each other."""

    customer: int
    identity: int
    conversation: int
    message: int
    event: int


@dataclass
class Batch:
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: {name: [] for name in COLUMNS})
    next_numbers: dict[str, int] = field(default_factory=dict)
    conversations: int = 0


class Simulator:
    """Turns plans into rows; ``dialect`` picks how times are encoded."""

    def __init__(self, ctx: Context, ids: Ids, *, dialect: str) -> None:
        self.ctx = ctx
        self.ids = ids
        self.time: Callable[[datetime], Any] = sqlite_time if dialect == "sqlite" else same_time

    def customer(self, batch: Batch, *, name: str, email: str, vip: bool, custom: dict[str, Any],
                 at: datetime) -> int:
        """A customer as customers.service.create writes one: row, email identity, event."""
        ids, t = self.ids, self.time(at)
        customer_id = ids.customer
        ids.customer += 1
        batch.rows["customers"].append(
            (customer_id, name, email, None, "en", None, None, vip, encode_json(custom), None, None, t, t)
        )
        batch.rows["customer_identities"].append((ids.identity, customer_id, "email", email, False, t))
        ids.identity += 1
        batch.rows["events"].append((ids.event, t, "customer.created", "system", None, "customer", customer_id,
                                     None, None, encode_json({"name": name, "email": email})))
        ids.event += 1
        return customer_id

    def conversation(self, batch: Batch, plan: Plan, *, customer_id: int) -> None:
        """One conversation, numbered next in its brand, with its messages, events and tags."""
        ctx = self.ctx
        number = ctx.next_numbers[plan.brand]
        ctx.next_numbers[plan.brand] = number + 1
        state = _State(self, batch, plan, customer_id, number)
        state.play()
        batch.rows["conversations"].append(state.row())
        for tag in dict.fromkeys(plan.tags):
            batch.rows["conversation_tags"].append((state.id, ctx.tag_ids[tag]))
        batch.conversations += 1


class _State:
    """A conversation while its plan plays, step for step as in conversations/service.py."""

    __slots__ = (
        "sim", "batch", "plan", "customer_id", "number", "id", "brand_id", "status", "assignee_id", "team_id",
        "preview", "message_count", "reopened_count", "last_activity_at", "last_customer_message_at",
        "last_agent_message_at", "first_response_at", "solved_at", "closed_at", "_times",
    )

    def __init__(self, sim: Simulator, batch: Batch, plan: Plan, customer_id: int, number: int) -> None:
        self.sim, self.batch, self.plan = sim, batch, plan
        self.customer_id, self.number = customer_id, number
        self.id = sim.ids.conversation
        sim.ids.conversation += 1
        self.brand_id = sim.ctx.brand_ids[plan.brand]
        self.status = "new"
        self.assignee_id: int | None = None
        self.team_id: int | None = None
        self.preview = ""
        self.message_count = 0
        self.reopened_count = 0
        self.last_activity_at = self.last_customer_message_at = self.last_agent_message_at = None
        self.first_response_at = self.solved_at = self.closed_at = None
        self._times: dict[datetime, Any] = {}

    def time(self, at: datetime) -> Any:
        # One step writes a message and several events at the same instant: encode it once.
        encoded = self._times.get(at)
        if encoded is None:
            encoded = self._times[at] = self.sim.time(at)
        return encoded

    def event(self, verb: str, at: datetime, actor: tuple[str, int | None], subject_type: str, subject_id: int,
              data: str) -> None:
        ids = self.sim.ids
        self.batch.rows["events"].append((ids.event, self.time(at), verb, actor[0], actor[1], subject_type,
                                          subject_id, self.id, self.brand_id, data))
        ids.event += 1

    def message(self, at: datetime, actor: tuple[str, int | None], direction: str, author_type: str,
                text: str, user_id: int | None = None) -> None:
        ids = self.sim.ids
        text = text.strip()
        message_id = ids.message
        ids.message += 1
        delivery = "received" if direction == "inbound" else ("delivered" if direction == "outbound" else "n/a")
        self.batch.rows["messages"].append((
            message_id, self.id, self.plan.channel, direction, author_type, user_id,
            self.customer_id if direction == "inbound" else None, text, text_to_html(text), None, delivery, None,
            "{}", self.time(at),
        ))
        self.message_count += 1
        self.last_activity_at = at
        if direction != "internal":
            self.preview = " ".join(text.split())[:PREVIEW_LEN]
        if direction == "inbound":
            self.last_customer_message_at = at
        elif direction == "outbound":
            self.last_agent_message_at = at
            self.first_response_at = self.first_response_at or at
        self.event("message.created", at, actor, "message", message_id,
                   _message_data(direction, author_type, text[:140]))

    def change_status(self, at: datetime, actor: tuple[str, int | None], status: str,
                      reason: str | None = None) -> None:
        before = self.status
        self.status = status
        if reason is None:  # an agent's change: service._change_status
            if status == "solved":
                self.solved_at = at
            elif status == "closed":
                self.closed_at = at
                self.solved_at = self.solved_at or at
            elif before == "solved":
                self.reopened_count += 1
        elif before == "solved":  # the customer's reply: service.receive_message
            self.reopened_count += 1
        self.event("conversation.status_changed", at, actor, "conversation", self.id,
                   _status_data(before, status, reason))

    def assign(self, at: datetime, actor: tuple[str, int | None], assignee_id: int) -> None:
        before, self.assignee_id = self.assignee_id, assignee_id
        self.event("conversation.assigned", at, actor, "conversation", self.id,
                   _change_data("assignee_id", before, assignee_id))
        if self.status == "new":
            self.change_status(at, actor, "open")

    def play(self) -> None:
        plan, users, teams = self.plan, self.sim.ctx.user_ids, self.sim.ctx.team_ids
        customer = ("customer", self.customer_id)
        first = plan.steps[0]
        self.event("conversation.created", first.at, customer, "conversation", self.id,
                   encode_json({"number": self.number, "channel": plan.channel, "customer_id": self.customer_id}))
        self.message(first.at, customer, "inbound", "customer", first.text)
        for step in plan.steps[1:]:
            at, kind = step.at, step.kind
            user = ("user", users[step.user]) if step.user else ("system", None)
            if kind == "customer":
                if self.status in ("solved", "pending", "on_hold"):
                    self.change_status(at, customer, "open", reason="customer_reply")
                self.message(at, customer, "inbound", "customer", step.text)
            elif kind == "reply":
                self.message(at, user, "outbound", "agent", step.text, user[1])
                if self.assignee_id is None:
                    self.assign(at, user, user[1])  # type: ignore[arg-type]
                target = step.status or ("pending" if self.status in ("new", "open") else None)
                if target is not None and target != self.status:
                    self.change_status(at, user, target)
            elif kind == "note":
                self.message(at, user, "internal", "agent", step.text, user[1])
            elif kind == "assign":
                if step.assignee:
                    self.assign(at, user, users[step.assignee])
                team_id = teams[step.team]  # type: ignore[index]
                self.event("conversation.updated", at, user, "conversation", self.id,
                           _change_data("team_id", self.team_id, team_id))
                self.team_id = team_id
            elif kind == "status":
                self.change_status(at, user, step.status)  # type: ignore[arg-type]
            else:
                raise ValueError(f"unknown step {kind}")

    def row(self) -> tuple[Any, ...]:
        plan, t = self.plan, self.time

        def maybe(value: datetime | None) -> Any:
            return None if value is None else t(value)

        return (
            self.id, self.brand_id, self.number, self.customer_id, plan.subject, self.status, plan.priority,
            plan.channel, self.assignee_id, self.team_id, None, "{}", self.preview, self.message_count,
            t(self.last_activity_at), maybe(self.last_customer_message_at), maybe(self.last_agent_message_at),
            maybe(self.first_response_at), maybe(self.solved_at), maybe(self.closed_at), self.reopened_count,
            None, t(plan.steps[0].at), t(plan.steps[-1].at),
        )
