"""`cartdesk import`: JSON lines replayed through the services, one transaction per line.

A conversation is opened with its first (customer) message, later messages are
received or added as replies and notes, and status, owner and tags are brought to
what the file says; ``demo.history.Backdater`` dates every step at the file's own
times and drops the deliveries of replies sent long ago. Messages are matched by
their key, so a line imported twice adds nothing and a line with new messages adds
only those.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, TextIO

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role, User
from cartdesk.auth.schemas import Principal
from cartdesk.brands import service as brands_service
from cartdesk.brands.models import Brand
from cartdesk.cli.common import describe
from cartdesk.cli.transfer import ConversationLine, MessageLine
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import AuthorType, Conversation, Direction, Message, Status
from cartdesk.conversations.schemas import ConversationCreate, ConversationUpdate, MessageCreate
from cartdesk.customers import service as customers_service
from cartdesk.customers.models import Customer, IdentityKind
from cartdesk.customers.schemas import CustomerCreate, IdentityIn
from cartdesk.db.engine import Database
from cartdesk.demo.history import Backdater
from cartdesk.events.schemas import Actor
from cartdesk.kit.errors import ValidationFailed

IMPORT_ACTOR = Actor(type="system", id=None, name="cartdesk import")
_OWN_KEY = re.compile(r"^cartdesk:(?P<brand>[^:]+):(?P<number>\d+):(?P<id>\d+)$")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    messages: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def acting_principal(session: Session, *, email: str | None) -> Principal:
    """Whose name agent-side steps go under when the file's author is not a user here."""
    if email:
        user = auth_service.get_by_email(session, email=email)
        if user is None or not user.is_active:
            raise ValidationFailed(f"--as {email}: no active user with that email.")
    else:
        user = session.scalar(
            select(User).where(User.role == Role.admin, User.is_active.is_(True)).order_by(User.id).limit(1)
        )
        if user is None:
            raise ValidationFailed(
                "Import needs an admin to act as: create one with `cartdesk user create --role admin` "
                "or pass --as EMAIL."
            )
    return auth_service.principal_for(user)


def _stable_key(line: ConversationLine, message: MessageLine) -> str:
    """A key for messages that arrive without one, stable for the same file."""
    basis = json.dumps(
        [line.brand.slug if line.brand else None, line.customer.email, line.customer.phone,
         message.created_at.isoformat(), str(message.direction), message.body_text],
        ensure_ascii=False,
    )
    return "import:" + hashlib.sha256(basis.encode()).hexdigest()[:40]


class _Importer:
    """Imports one line inside one transaction."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.clock = Backdater(session)
        self._users: dict[str, Principal | None] = {}

    def existing(self, channel: str, key: str) -> Message | None:
        message = self.session.scalar(select(Message).where(Message.channel == channel, Message.external_id == key))
        if message is not None:
            return message
        # A Cartdesk export imported into the database it came from: the key names the row itself.
        own = _OWN_KEY.match(key)
        if own:
            candidate = self.session.get(Message, int(own["id"]))
            if candidate is not None:
                conversation = self.session.get(Conversation, candidate.conversation_id)
                if conversation is not None and conversation.number == int(own["number"]) and (
                    conversation.brand.slug == own["brand"]
                ):
                    return candidate
        return None

    def author(self, email: str | None) -> Principal:
        if not email:
            return self.principal
        if email not in self._users:
            user = auth_service.get_by_email(self.session, email=email)
            self._users[email] = auth_service.principal_for(user) if user and user.is_active else None
        return self._users[email] or self.principal

    def brand(self, line: ConversationLine) -> Brand:
        if line.brand is None:
            return brands_service.get_default(self.session)
        brand = self.session.scalar(select(Brand).where(Brand.slug == line.brand.slug))
        return brand or brands_service.create(self.session, slug=line.brand.slug, name=line.brand.name or line.brand.slug)

    def customer(self, line: ConversationLine) -> Customer:
        c = line.customer
        known = [(IdentityKind.email, c.email), (IdentityKind.phone, c.phone)] + [(i.kind, i.value) for i in c.identities]
        for kind, value in known:
            if value:
                found = customers_service.find_by_identity(self.session, kind=kind, value=value)
                if found is not None:
                    return found
        if not (c.name or c.email or c.phone or c.identities):
            raise ValidationFailed("The customer needs a name, an email, a phone or an identity.")
        return customers_service.create(
            self.session, actor=IMPORT_ACTOR,
            customer_in=CustomerCreate(
                name=c.name, email=c.email, phone=c.phone,
                identities=[IdentityIn(kind=i.kind, value=i.value) for i in c.identities],
            ),
        )

    def run(self, line: ConversationLine) -> tuple[str, int]:
        """Returns ("created" | "updated" | "unchanged", messages added)."""
        # The first message opens the conversation, which files it under the conversation's channel.
        keyed = [
            (m, line.channel if i == 0 else m.channel or line.channel, m.external_id or _stable_key(line, m))
            for i, m in enumerate(line.messages)
        ]
        present = [self.existing(channel, key) for _, channel, key in keyed]
        conversation = next(
            (self.session.get(Conversation, p.conversation_id) for p in present if p is not None), None
        )
        if conversation is not None and all(p is not None for p in present):
            return "unchanged", 0
        created = conversation is None
        added = 0
        for (message, channel, key), found in zip(keyed, present, strict=True):
            if found is not None:
                continue
            if conversation is None:
                conversation = self._open(line, message, channel, key)
            else:
                self._append(conversation, message, channel, key)
            added += 1
        assert conversation is not None
        self._settle(conversation, line)
        return ("created" if created else "updated"), added

    def _open(self, line: ConversationLine, message: MessageLine, channel: str, key: str) -> Conversation:
        if message.direction != Direction.inbound:
            raise ValidationFailed("The first message of a conversation must come from the customer.")
        brand = self.brand(line)
        with self.clock.at(message.created_at) as touch:
            customer = self.customer(line)
            conversation = conversations_service.create(
                self.session,
                actor=Actor(type="customer", id=customer.id, name=customer.display_name),
                conversation_in=ConversationCreate(
                    customer={"id": customer.id}, subject=line.subject, channel=line.channel, brand=brand.id,
                    message={"body": message.body_text or " ", "html": message.html, "external_id": key},
                    priority=line.priority, tags=line.tags, custom_fields=line.custom_fields,
                ),
            )
            touch(conversation, customer, *customer.identities)
        return conversation

    def _append(self, conversation: Conversation, message: MessageLine, channel: str, key: str) -> None:
        session = self.session
        with self.clock.at(message.created_at) as touch:
            touch(conversation)
            if message.direction == Direction.inbound:
                customer = customers_service.get_or_raise(session, customer_id=conversation.customer_id)
                conversations_service.receive_message(
                    session, conversation=conversation, customer=customer, body=message.body_text,
                    html=message.html, channel=channel, external_id=key,
                )
                return
            if message.author_type == AuthorType.system:
                row = conversations_service.system_note(session, conversation=conversation, body=message.body_text)
            else:
                author = self.author(message.author)
                row = conversations_service.add_message(
                    session, principal=author, conversation=conversation,
                    message_in=MessageCreate(
                        kind="note" if message.direction == Direction.internal else "reply",
                        body=message.body_text or " ", html=message.html,
                    ),
                )
                if message.author and author is self.principal:
                    row.meta = {**row.meta, "imported_author": message.author}
            row.external_id = key
            row.channel = channel

    def _settle(self, conversation: Conversation, line: ConversationLine) -> None:
        """Bring status, owner and tags to what the file says, then its own timestamps."""
        changes: dict[str, Any] = {"priority": line.priority, "tags": line.tags}
        if line.status != conversation.status and line.status in conversations_service.ALLOWED_TRANSITIONS[
            Status(conversation.status)
        ]:
            changes["status"] = line.status
        assignee = auth_service.get_by_email(self.session, email=line.assignee) if line.assignee else None
        changes["assignee_id"] = assignee.id if assignee and assignee.is_active else None
        teams = {t.name: t.id for t in auth_service.list_teams(self.session)}
        changes["team_id"] = teams.get(line.team) if line.team else None
        when = line.updated_at or line.messages[-1].created_at
        with self.clock.at(when) as touch:
            touch(conversation)
            conversations_service.update(
                self.session, principal=self.principal, conversation=conversation,
                update_in=ConversationUpdate(**changes),
            )
        # History, not a change made now: the file's own clock readings win.
        for name in ("created_at", "first_response_at", "solved_at", "closed_at"):
            value = getattr(line, name)
            if value is not None:
                setattr(conversation, name, value)
        conversation.reopened_count = max(conversation.reopened_count, line.reopened_count)
        self.session.flush()


def import_lines(database: Database, stream: TextIO, *, acting_as: str | None = None) -> ImportReport:
    """Each line in its own transaction: a bad line is reported and skipped, the rest lands."""
    report = ImportReport()
    with database.transaction(read_only=True) as session:
        principal = acting_principal(session, email=acting_as)
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            line = ConversationLine.model_validate_json(raw)
        except ValidationError as exc:
            report.failed.append((number, describe(exc) or str(exc)))
            continue
        try:
            with database.transaction() as session:
                outcome, added = _Importer(session, principal).run(line)
        except Exception as exc:
            reason = describe(exc)
            if reason is None:
                raise
            report.failed.append((number, reason))
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.messages += added
    return report
