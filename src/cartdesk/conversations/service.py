"""The rules of a conversation: creation, replies, status, assignment, tags, merge.

Every write follows check / do / notify: ``check_*`` validates input and
permission, the body changes rows and records an event, and notification happens
through events that leave only after the caller's commit. Services never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select, true
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role
from cartdesk.auth.schemas import Principal
from cartdesk.brands import service as brands_service
from cartdesk.conversations import tasks as delivery
from cartdesk.conversations.models import (
    OPEN_STATUSES,
    AuthorType,
    Conversation,
    ConversationTag,
    DeliveryStatus,
    Direction,
    Message,
    Status,
    Tag,
)
from cartdesk.conversations.schemas import (
    ConversationCreate,
    ConversationFilters,
    ConversationUpdate,
    MessageCreate,
)
from cartdesk.customers import service as customers_service
from cartdesk.customers.models import Customer, IdentityKind
from cartdesk.customers.schemas import CustomerCreate
from cartdesk.db.session import insert_now, update_now
from cartdesk.events import service as events_service
from cartdesk.events.schemas import SYSTEM, Actor
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cartdesk.kit.html import html_to_text, sanitize_html, text_to_html
from cartdesk.kit.pagination import decode_cursor, encode_cursor

PREVIEW_LEN = 200

# Which manual status changes are allowed. ``new`` is only ever the first status;
# ``closed`` is final (a customer writing again starts a follow-up conversation).
ALLOWED_TRANSITIONS: dict[Status, set[Status]] = {
    Status.new: {Status.open, Status.pending, Status.on_hold, Status.solved, Status.closed},
    Status.open: {Status.pending, Status.on_hold, Status.solved, Status.closed},
    Status.pending: {Status.open, Status.on_hold, Status.solved, Status.closed},
    Status.on_hold: {Status.open, Status.pending, Status.solved, Status.closed},
    Status.solved: {Status.open, Status.pending, Status.on_hold, Status.closed},
    Status.closed: set(),
}


# --- reading -------------------------------------------------------------------

def visible_to(principal: Principal) -> Any:
    """The conversations this principal may read, as a WHERE clause.

    Admins and supervisors see everything. Agents see conversations of their teams,
    conversations with no team yet, and whatever is assigned to them.
    """
    if principal.role in (Role.admin, Role.supervisor):
        return true()
    # One rule, written once: the parameterised form used by prebuilt statements,
    # here with this agent's values bound.
    return _agent_visibility(me=principal.user_id, my_teams=list(principal.team_ids))


def get(session: Session, *, conversation_id: int) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def _agent_visibility(*, me: int | None = None, my_teams: list[int] | None = None) -> Any:
    """The agent's visibility rule. Without values the parameters are left for execute time
    (prebuilt statements); with values they are bound here (visible_to)."""
    bound = me is not None
    return or_(
        Conversation.team_id.is_(None),
        Conversation.assignee_id == (bindparam("me", value=me) if bound else bindparam("me")),
        Conversation.team_id.in_(
            bindparam("my_teams", value=my_teams or [], expanding=True) if bound
            else bindparam("my_teams", expanding=True)
        ),
    )


# Built once and reused with parameters: a fresh ORM statement per call costs more
# than the query itself (see conversations/queries.py).
_GET_ANY = select(Conversation).where(Conversation.id == bindparam("cid"))
_GET_AS_AGENT = _GET_ANY.where(_agent_visibility())
# The same without the customer and assignee that a conversation normally brings along
# (joined): writers such as "add a reply" do not read them (they load on access if needed).
_GET_ANY_BARE = _GET_ANY.options(lazyload(Conversation.customer), lazyload(Conversation.assignee))
_GET_AS_AGENT_BARE = _GET_AS_AGENT.options(lazyload(Conversation.customer), lazyload(Conversation.assignee))


def get_or_raise(session: Session, *, conversation_id: int, principal: Principal | None = None,
                 bare: bool = False) -> Conversation:
    if principal is None or principal.role in (Role.admin, Role.supervisor):
        conversation = session.execute(_GET_ANY_BARE if bare else _GET_ANY,
                                       {"cid": conversation_id}).scalar_one_or_none()
    else:
        conversation = session.execute(
            _GET_AS_AGENT_BARE if bare else _GET_AS_AGENT,
            {"cid": conversation_id, "me": principal.user_id, "my_teams": list(principal.team_ids)},
        ).scalar_one_or_none()
    if conversation is None:
        # The same answer for "missing" and "not yours": ids are not an oracle.
        raise NotFound(f"Conversation {conversation_id} does not exist.", details={"id": conversation_id})
    return conversation


def get_by_number(session: Session, *, brand_id: int, number: int) -> Conversation | None:
    return session.scalar(
        select(Conversation).where(Conversation.brand_id == brand_id, Conversation.number == number)
    )


def list_messages(session: Session, *, conversation_id: int, include_notes: bool = True) -> Sequence[Message]:
    stmt = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
    if not include_notes:
        stmt = stmt.where(Message.direction != Direction.internal)
    return session.scalars(stmt).all()


@dataclass(frozen=True)
class ListResult:
    items: Sequence[Conversation]
    next_cursor: str | None


def _filtered(principal: Principal, filters: ConversationFilters) -> Select[tuple[Conversation]]:
    stmt = select(Conversation).where(visible_to(principal), Conversation.merged_into_id.is_(None))
    return apply_filters(stmt, principal=principal, filters=filters)


def apply_filters(stmt: Select[Any], *, principal: Principal, filters: ConversationFilters) -> Select[Any]:
    """The inbox filters as WHERE clauses (shared by the ORM and the SQL read models)."""
    if filters.status:
        stmt = stmt.where(Conversation.status.in_(filters.status))
    if filters.assignee is not None:
        if filters.assignee == "none":
            stmt = stmt.where(Conversation.assignee_id.is_(None))
        elif filters.assignee == "me":
            stmt = stmt.where(Conversation.assignee_id == principal.user_id)
        else:
            try:
                stmt = stmt.where(Conversation.assignee_id == int(filters.assignee))
            except ValueError as exc:
                raise ValidationFailed(
                    "assignee must be a user id, 'me' or 'none'.", details=[{"field": "assignee"}]
                ) from exc
    if filters.team is not None:
        stmt = stmt.where(Conversation.team_id == filters.team)
    if filters.channel:
        stmt = stmt.where(Conversation.channel == filters.channel)
    if filters.customer is not None:
        stmt = stmt.where(Conversation.customer_id == filters.customer)
    if filters.brand is not None:
        stmt = stmt.where(Conversation.brand_id == filters.brand)
    if filters.priority is not None:
        stmt = stmt.where(Conversation.priority == filters.priority)
    if filters.tag:
        tag_ids = select(Tag.id).where(Tag.name == normalise_tag(filters.tag)).scalar_subquery()
        stmt = stmt.where(
            Conversation.id.in_(select(ConversationTag.conversation_id).where(ConversationTag.tag_id == tag_ids))
        )
    return stmt


def _after_cursor(last_at: Any, last_id: Any) -> Any:
    """Rows after a keyset cursor on (last_activity_at DESC, id DESC); the arguments are
    values or bound parameters (``queries._list_statement``).

    The redundant ``<=`` is the bound both planners seek to in the (status | team | …,
    last_activity_at) indexes; the OR alone was a filter over every row before the cursor
    (PostgreSQL walked 2,666 rows for a page half-way down 5,347 open conversations).
    """
    return and_(
        Conversation.last_activity_at <= last_at,
        or_(
            Conversation.last_activity_at < last_at,
            and_(Conversation.last_activity_at == last_at, Conversation.id < last_id),
        ),
    )


def list_conversations(
    session: Session,
    *,
    principal: Principal,
    filters: ConversationFilters,
    limit: int = 25,
    cursor: str | None = None,
) -> ListResult:
    """Most recent activity first, paged by keyset on (last_activity_at, id)."""
    stmt = _filtered(principal, filters)
    if cursor:
        last_at, last_id = decode_cursor(cursor, types=(datetime, int))
        stmt = stmt.where(_after_cursor(last_at, last_id))
    stmt = stmt.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc()).limit(limit + 1)
    rows = session.scalars(stmt).unique().all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.last_activity_at, last.id])
    return ListResult(items=rows[:limit], next_cursor=next_cursor)


def count_by_view(session: Session, *, principal: Principal) -> dict[str, int]:
    """Counts for the inbox sidebar, in one grouped query per dimension."""
    base = select(Conversation.status, func.count()).where(
        visible_to(principal), Conversation.merged_into_id.is_(None)
    )
    by_status = dict(session.execute(base.group_by(Conversation.status)).all())
    open_values = [str(s) for s in OPEN_STATUSES]
    mine = session.scalar(
        select(func.count()).select_from(Conversation).where(
            Conversation.assignee_id == principal.user_id, Conversation.status.in_(open_values)
        )
    )
    unassigned = session.scalar(
        select(func.count()).select_from(Conversation).where(
            visible_to(principal), Conversation.assignee_id.is_(None),
            Conversation.status.in_(open_values), Conversation.merged_into_id.is_(None),
        )
    )
    return {
        "mine": mine or 0,
        "unassigned": unassigned or 0,
        "open": sum(by_status.get(s, 0) for s in open_values),
        "pending": by_status.get("pending", 0),
        "solved": by_status.get("solved", 0),
        "closed": by_status.get("closed", 0),
    }


# --- creating and receiving --------------------------------------------------------

def _resolve_customer(session: Session, *, actor: Actor, data: ConversationCreate) -> Customer:
    """The conversation's customer, written: a new one is inserted at once (Core), like the
    conversation and its message after it."""
    c = data.customer
    if c.id is not None:
        return customers_service.get_or_raise(session, customer_id=c.id)
    if c.email:
        customer, _ = customers_service.get_or_create_by_identity(
            session, actor=actor, kind=IdentityKind.email, value=str(c.email), name=c.name, now=True
        )
        return customer
    if c.phone:
        customer, _ = customers_service.get_or_create_by_identity(
            session, actor=actor, kind=IdentityKind.phone, value=c.phone, name=c.name, now=True
        )
        return customer
    if c.name:
        return customers_service.create(session, actor=actor, customer_in=CustomerCreate(name=c.name), now=True)
    raise ValidationFailed(
        "The customer needs an id, an email, a phone or at least a name.", details=[{"field": "customer"}]
    )


def create(session: Session, *, actor: Actor, conversation_in: ConversationCreate) -> Conversation:
    """Open a new conversation with the customer's first message."""
    return open_conversation(session, actor=actor, conversation_in=conversation_in)[0]


def open_conversation(
    session: Session,
    *,
    actor: Actor,
    conversation_in: ConversationCreate,
    message_meta: dict[str, Any] | None = None,
    known_new: bool = False,
) -> tuple[Conversation, Message]:
    """:func:`create`, also returning the first message (or, for an inbound delivered twice,
    the message already stored). ``known_new``: the caller has just looked the external id
    up in this transaction, so the duplicate check is not repeated."""
    brand_id = brands_service.resolve_id(session, ref=conversation_in.brand)
    if conversation_in.message.external_id and not known_new:
        existing = _message_by_external_id(
            session, channel=conversation_in.channel, external_id=conversation_in.message.external_id
        )
        if existing is not None:
            # The same inbound delivered twice: answer with what we already stored.
            return get_or_raise(session, conversation_id=existing.conversation_id), existing
    customer = _resolve_customer(session, actor=actor, data=conversation_in)
    now = utcnow()
    number = brands_service.take_number(session, brand_id=brand_id, ref=conversation_in.brand)
    conversation = Conversation(
        brand_id=brand_id,
        number=number,
        customer_id=customer.id,
        subject=conversation_in.subject.strip(),
        status=Status.new,
        priority=conversation_in.priority,
        channel=conversation_in.channel,
        custom_fields=conversation_in.custom_fields,
        last_activity_at=now,
        created_at=now,
        updated_at=now,
    )
    # The conversation row is written once, already carrying its first message's preview and
    # counters, and then the message: each one prebuilt Core INSERT (``insert_now``), which
    # costs a fraction of a unit-of-work flush of the same rows.
    message = _new_message(
        session,
        add=False,
        conversation=conversation,
        direction=Direction.inbound,
        author_type=AuthorType.customer,
        author_customer_id=customer.id,
        body=conversation_in.message.body,
        html=conversation_in.message.html,
        external_id=conversation_in.message.external_id,
        delivery_status=DeliveryStatus.received,
        meta=message_meta,
        now=now,
    )
    insert_now(session, conversation)
    # Known, so never loaded: its customer, and no tags or assignee yet.
    set_committed_value(conversation, "customer", customer)
    set_committed_value(conversation, "assignee", None)
    set_committed_value(conversation, "tags", [])
    message.conversation_id = conversation.id
    insert_now(session, message)
    set_committed_value(message, "conversation", conversation)
    set_committed_value(conversation, "messages", [message])
    customer_actor = Actor(type="customer", id=customer.id, name=customer.display_name)
    events_service.record(
        session, verb="conversation.created", actor=actor, subject_type="conversation",
        subject_id=conversation.id, conversation_id=conversation.id, brand_id=brand_id,
        data={"number": conversation.number, "channel": conversation.channel, "customer_id": customer.id},
    )
    if conversation_in.tags:
        _set_tags(session, conversation=conversation, names=conversation_in.tags)
    _message_created(session, message=message, conversation=conversation,
                     actor=customer_actor if actor.type != "user" else actor)
    return conversation, message


def receive_message(
    session: Session,
    *,
    conversation: Conversation,
    customer: Customer,
    body: str,
    html: str | None = None,
    channel: str | None = None,
    external_id: str | None = None,
    meta: dict[str, Any] | None = None,
    known_new: bool = False,
) -> Message:
    """A customer wrote in an existing conversation (any channel).

    Idempotent on (channel, external_id) (``known_new``: the caller already looked the id
    up in this transaction). A reply reopens solved, pending and on-hold conversations; a
    reply to a closed one starts a follow-up instead.
    """
    channel = channel or conversation.channel
    if external_id and not known_new:
        existing = _message_by_external_id(session, channel=channel, external_id=external_id)
        if existing is not None:
            return existing
    actor = Actor(type="customer", id=customer.id, name=customer.display_name)
    if conversation.status == Status.closed:
        conversation = _follow_up(session, actor=actor, closed=conversation)
    elif conversation.status in (Status.solved, Status.pending, Status.on_hold):
        before = conversation.status
        conversation.status = Status.open
        if before == Status.solved:
            conversation.reopened_count += 1
        events_service.record(
            session, verb="conversation.status_changed", actor=actor, subject_type="conversation",
            subject_id=conversation.id, conversation_id=conversation.id, brand_id=conversation.brand_id,
            data={"status": {"before": str(before), "after": str(Status.open)}, "reason": "customer_reply"},
        )
    return _append_message(
        session, conversation=conversation, actor=actor, direction=Direction.inbound,
        author_type=AuthorType.customer, author_customer_id=customer.id, body=body, html=html,
        external_id=external_id, channel=channel, delivery_status=DeliveryStatus.received, meta=meta,
    )


def _follow_up(session: Session, *, actor: Actor, closed: Conversation) -> Conversation:
    now = utcnow()
    follow = Conversation(
        brand_id=closed.brand_id,
        number=brands_service.next_conversation_number(session, brand_id=closed.brand_id),
        customer_id=closed.customer_id,
        subject=closed.subject,
        status=Status.new,
        priority=closed.priority,
        channel=closed.channel,
        team_id=closed.team_id,
        assignee_id=closed.assignee_id,
        custom_fields={**closed.custom_fields, "follow_up_of": closed.id},
        last_activity_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(follow)
    session.flush()
    events_service.record(
        session, verb="conversation.created", actor=actor, subject_type="conversation", subject_id=follow.id,
        conversation_id=follow.id, brand_id=follow.brand_id,
        data={"number": follow.number, "channel": follow.channel, "follow_up_of": closed.id},
    )
    return follow


def _message_by_external_id(session: Session, *, channel: str, external_id: str) -> Message | None:
    return session.scalar(select(Message).where(Message.channel == channel, Message.external_id == external_id))


def _append_message(
    session: Session, *, conversation: Conversation, actor: Actor, now: bool = False, **fields: Any
) -> Message:
    """:func:`_new_message` (same keyword arguments) with its ``message.created`` event, flushed.
    ``now=True`` inserts the row at once with Core instead (``db.session.insert_now``), for
    a conversation that is already written: the conversation's own changes then wait for
    the next flush."""
    message = _new_message(session, conversation=conversation, add=not now, **fields)
    if now:
        insert_now(session, message)
    else:
        session.flush()
    _message_created(session, message=message, conversation=conversation, actor=actor)
    return message


def _new_message(
    session: Session,
    *,
    conversation: Conversation,
    direction: Direction,
    author_type: AuthorType,
    body: str,
    delivery_status: DeliveryStatus,
    html: str | None = None,
    author_user_id: int | None = None,
    author_customer_id: int | None = None,
    external_id: str | None = None,
    channel: str | None = None,
    meta: dict[str, Any] | None = None,
    now: datetime | None = None,
    add: bool = True,
) -> Message:
    """The message row and the conversation's bookkeeping for it, not yet flushed (nor, with
    ``add=False``, added to the session)."""
    now = now or utcnow()
    text = body.strip() if body.strip() else html_to_text(html or "")
    message = Message(
        channel=channel or conversation.channel,
        direction=direction,
        author_type=author_type,
        author_user_id=author_user_id,
        author_customer_id=author_customer_id,
        body_text=text,
        body_html=sanitize_html(html) if html else text_to_html(text),
        external_id=external_id,
        delivery_status=delivery_status,
        meta=meta or {},
        created_at=now,
        # A new message has no files yet: saying so spares a lazy load when it is serialised.
        # Code that attaches files sets their message_id and expires this collection.
        attachments=[],
    )
    if conversation.id is not None:
        message.conversation_id = conversation.id
    elif add:
        message.conversation = conversation  # a conversation in the same flush
    # (else the caller sets conversation_id once the conversation is written)
    if add:
        session.add(message)
    conversation.message_count = (conversation.message_count or 0) + 1
    conversation.last_activity_at = now
    conversation.updated_at = now
    if direction != Direction.internal:
        conversation.preview = " ".join(text.split())[:PREVIEW_LEN]
    if direction == Direction.inbound:
        conversation.last_customer_message_at = now
    elif direction == Direction.outbound and author_type == AuthorType.agent:
        conversation.last_agent_message_at = now
        if conversation.first_response_at is None:
            conversation.first_response_at = now
    return message


def _message_created(session: Session, *, message: Message, conversation: Conversation, actor: Actor) -> None:
    named = {"subject_id": message.id} if message.id is not None else {"subject": message}
    events_service.record(
        session, verb="message.created", actor=actor, subject_type="message", **named,
        conversation_id=conversation.id, brand_id=conversation.brand_id,
        data={"direction": str(message.direction), "author_type": str(message.author_type),
              "preview": message.body_text[:140]},
    )


# --- agent actions -------------------------------------------------------------------

def check_can_write(principal: Principal) -> None:
    if not principal.has_scope("conversations:write"):
        raise Forbidden("This token may not change conversations (needs conversations:write).")


def add_message(
    session: Session, *, principal: Principal, conversation: Conversation, message_in: MessageCreate
) -> Message:
    """An agent replies to the customer or leaves an internal note."""
    check_can_write(principal)
    if conversation.merged_into_id is not None:
        raise Conflict(
            f"Conversation {conversation.id} was merged into {conversation.merged_into_id}; reply there.",
            details={"merged_into_id": conversation.merged_into_id},
        )
    is_note = message_in.kind == "note"
    if not is_note and conversation.status == Status.closed:
        raise Conflict("Closed conversations cannot be replied to; the customer's next message reopens a new one.")
    # The message row goes in at once (Core); the conversation's bookkeeping for it and the
    # status and assignment changes below go out in one Core UPDATE at the end (update_now).
    message = _append_message(
        session,
        conversation=conversation,
        actor=principal.actor,
        now=True,
        direction=Direction.internal if is_note else Direction.outbound,
        author_type=AuthorType.agent,
        author_user_id=principal.user_id,
        body=message_in.body,
        html=message_in.html,
        delivery_status=DeliveryStatus.not_applicable if is_note else DeliveryStatus.queued,
    )
    if message_in.attachment_ids:
        from cartdesk.conversations import attachments  # local: keeps the storage import lazy

        attachments.attach(session, message=message, attachment_ids=message_in.attachment_ids)
    if not is_note:
        if conversation.assignee_id is None:
            _assign(session, actor=principal.actor, conversation=conversation, assignee_id=principal.user_id)
        target = message_in.status or (Status.pending if conversation.status in (Status.new, Status.open) else None)
        if target is not None and target != conversation.status:
            _change_status(session, actor=principal.actor, conversation=conversation, status=target)
        # Sending leaves through a durable job, after commit (or, where it is only a
        # database write, in this transaction).
        delivery.send_or_enqueue(session, message=message, conversation=conversation)
    elif message_in.status is not None and message_in.status != conversation.status:
        _change_status(session, actor=principal.actor, conversation=conversation, status=message_in.status)
    update_now(session, conversation)  # its bookkeeping and changes, without the unit of work
    session.flush()  # the events recorded above
    return message


def update(
    session: Session, *, principal: Principal, conversation: Conversation, update_in: ConversationUpdate
) -> Conversation:
    check_can_write(principal)
    changes = update_in.model_dump(exclude_unset=True)
    if "status" in changes and changes["status"] is None:
        raise ValidationFailed("status cannot be null.", details=[{"field": "status"}])
    if "status" in changes and changes["status"] != conversation.status:
        _change_status(session, actor=principal.actor, conversation=conversation, status=changes["status"])
    if "assignee_id" in changes and changes["assignee_id"] != conversation.assignee_id:
        _assign(session, actor=principal.actor, conversation=conversation, assignee_id=changes["assignee_id"])
    if "team_id" in changes and changes["team_id"] != conversation.team_id:
        if changes["team_id"] is not None:
            auth_service.get_team_or_raise(session, team_id=changes["team_id"])
        _record_change(session, principal.actor, conversation, "team_id", conversation.team_id, changes["team_id"])
        conversation.team_id = changes["team_id"]
    if "priority" in changes and changes["priority"] is not None and changes["priority"] != conversation.priority:
        _record_change(session, principal.actor, conversation, "priority", conversation.priority, changes["priority"])
        conversation.priority = changes["priority"]
    if "subject" in changes and changes["subject"] is not None and changes["subject"] != conversation.subject:
        _record_change(session, principal.actor, conversation, "subject", conversation.subject, changes["subject"])
        conversation.subject = changes["subject"]
    if "custom_fields" in changes and changes["custom_fields"] is not None:
        merged = {**conversation.custom_fields, **changes["custom_fields"]}
        merged = {k: v for k, v in merged.items() if v is not None}
        _record_change(session, principal.actor, conversation, "custom_fields", conversation.custom_fields, merged)
        conversation.custom_fields = merged
    if "tags" in changes and changes["tags"] is not None:
        _set_tags(session, conversation=conversation, names=changes["tags"], actor=principal.actor)
    conversation.updated_at = utcnow()
    session.flush()
    return conversation


def _record_change(
    session: Session, actor: Actor, conversation: Conversation, field: str, before: Any, after: Any
) -> None:
    def plain(v: Any) -> Any:
        return str(v) if hasattr(v, "value") else v

    events_service.record(
        session, verb="conversation.updated", actor=actor, subject_type="conversation",
        subject_id=conversation.id, conversation_id=conversation.id, brand_id=conversation.brand_id,
        data={field: {"before": plain(before), "after": plain(after)}},
    )


def _change_status(session: Session, *, actor: Actor, conversation: Conversation, status: Status) -> None:
    before = Status(conversation.status)
    if status not in ALLOWED_TRANSITIONS[before]:
        raise Conflict(
            f"A conversation cannot go from {before} to {status}.",
            details={"field": "status", "from": str(before), "to": str(status),
                     "allowed": sorted(str(s) for s in ALLOWED_TRANSITIONS[before])},
        )
    now = utcnow()
    conversation.status = status
    if status == Status.solved:
        conversation.solved_at = now
    elif status == Status.closed:
        conversation.closed_at = now
        conversation.solved_at = conversation.solved_at or now
    elif before == Status.solved:
        conversation.reopened_count += 1
    events_service.record(
        session, verb="conversation.status_changed", actor=actor, subject_type="conversation",
        subject_id=conversation.id, conversation_id=conversation.id, brand_id=conversation.brand_id,
        data={"status": {"before": str(before), "after": str(status)}},
    )


def _assign(session: Session, *, actor: Actor, conversation: Conversation, assignee_id: int | None) -> None:
    if assignee_id is not None:
        user = auth_service.get_or_raise(session, user_id=assignee_id)
        if not user.is_active:
            raise ValidationFailed("Cannot assign to a deactivated user.", details=[{"field": "assignee_id"}])
    before = conversation.assignee_id
    conversation.assignee_id = assignee_id
    session.flush()
    session.expire(conversation, ["assignee"])
    events_service.record(
        session, verb="conversation.assigned", actor=actor, subject_type="conversation",
        subject_id=conversation.id, conversation_id=conversation.id, brand_id=conversation.brand_id,
        data={"assignee_id": {"before": before, "after": assignee_id}},
    )
    # Taking ownership of a new conversation means someone is working it.
    if assignee_id is not None and conversation.status == Status.new:
        _change_status(session, actor=actor, conversation=conversation, status=Status.open)


def normalise_tag(name: str) -> str:
    return "-".join(name.strip().lower().split())


def _set_tags(session: Session, *, conversation: Conversation, names: Sequence[str], actor: Actor | None = None) -> None:
    wanted = list(dict.fromkeys(normalise_tag(n) for n in names if n.strip()))
    existing = {t.name: t for t in session.scalars(select(Tag).where(Tag.name.in_(wanted))).all()} if wanted else {}
    tags = []
    for name in wanted:
        tag = existing.get(name)
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
        tags.append(tag)
    before = sorted(conversation.tag_names)
    conversation.tags = tags
    session.flush()
    after = sorted(t.name for t in tags)
    if actor is not None and before != after:
        events_service.record(
            session, verb="conversation.tagged", actor=actor, subject_type="conversation",
            subject_id=conversation.id, conversation_id=conversation.id, brand_id=conversation.brand_id,
            data={"tags": {"before": before, "after": after}},
        )


def merge(session: Session, *, principal: Principal, target: Conversation, source: Conversation) -> Conversation:
    """Merge ``source`` into ``target``: messages and events move, the source points at the survivor."""
    check_can_write(principal)
    if source.id == target.id:
        raise ValidationFailed("A conversation cannot be merged into itself.", details=[{"field": "source_id"}])
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise Conflict("One of these conversations has already been merged.")
    if source.brand_id != target.brand_id:
        raise ValidationFailed("Only conversations of the same brand can be merged.", details=[{"field": "source_id"}])
    moved = session.execute(
        sql_update(Message).where(Message.conversation_id == source.id).values(conversation_id=target.id)
    ).rowcount
    from cartdesk.events.models import Event

    session.execute(sql_update(Event).where(Event.conversation_id == source.id).values(conversation_id=target.id))
    _set_tags(session, conversation=target, names=sorted(set(target.tag_names) | set(source.tag_names)))
    target.message_count += source.message_count
    target.last_activity_at = max(target.last_activity_at, source.last_activity_at)
    if source.first_response_at and (not target.first_response_at or source.first_response_at < target.first_response_at):
        target.first_response_at = source.first_response_at
    if target.status in (Status.solved, Status.closed) and source.is_open:
        target.status = Status.open
    source.merged_into_id = target.id
    source.status = Status.closed
    source.closed_at = utcnow()
    source.message_count = 0
    session.flush()
    _append_message(
        session, conversation=target, actor=principal.actor, direction=Direction.internal,
        author_type=AuthorType.system,
        body=f"Conversation #{source.number} ({source.subject or 'no subject'}) was merged into this one by {principal.name}.",
        delivery_status=DeliveryStatus.not_applicable,
    )
    events_service.record(
        session, verb="conversation.merged", actor=principal.actor, subject_type="conversation",
        subject_id=target.id, conversation_id=target.id, brand_id=target.brand_id,
        data={"source_id": source.id, "source_number": source.number, "messages_moved": moved},
    )
    return target


def merge_customers(session: Session, *, principal: Principal, target: Customer, source: Customer) -> Customer:
    """Customer merge spans two domains: identities move (customers), conversations move (here)."""
    if not principal.has_scope("customers:write"):
        raise Forbidden("This token may not change customers (needs customers:write).")
    customers_service.merge(session, actor=principal.actor, target=target, source=source)
    session.execute(sql_update(Conversation).where(Conversation.customer_id == source.id).values(customer_id=target.id))
    session.execute(
        sql_update(Message).where(Message.author_customer_id == source.id).values(author_customer_id=target.id)
    )
    session.flush()
    return target


def system_note(session: Session, *, conversation: Conversation, body: str, actor: Actor = SYSTEM) -> Message:
    """A system line in the thread (order actions, merges, automations)."""
    return _append_message(
        session, conversation=conversation, actor=actor, direction=Direction.internal,
        author_type=AuthorType.system, body=body, delivery_status=DeliveryStatus.not_applicable,
    )


def send_automatic(
    session: Session, *, conversation: Conversation, body: str, meta: dict[str, Any] | None = None,
    actor: Actor = SYSTEM, channel: str | None = None, author_type: AuthorType = AuthorType.bot,
) -> Message:
    """An automatic message to the customer (an acknowledgement, a notification, a chat transcript)
    through ``channel``'s adapter (the conversation's own channel by default). Not an agent reply: no
    assignment, no status change, no first-response time. It leaves through the same durable delivery
    job, after commit (or in this transaction where sending is only a database write)."""
    message = _append_message(
        session, conversation=conversation, actor=actor, direction=Direction.outbound, author_type=author_type,
        body=body, delivery_status=DeliveryStatus.queued, meta={**(meta or {}), "automatic": True}, channel=channel,
    )
    delivery.send_or_enqueue(session, message=message, conversation=conversation)
    return message


def send_system_message(session: Session, *, conversation: Conversation, body: str, channel: str) -> Message:
    """A system message to the customer (a chat transcript) sent through ``channel``'s adapter."""
    return send_automatic(session, conversation=conversation, body=body, channel=channel,
                          author_type=AuthorType.system)
