"""REST API for conversations. Thin: parse, call the service, shape the answer.

Handlers are ``async def`` and return JSON built by conversations/queries.py (see
db/deps.py for why); ``response_model`` documents the shapes in OpenAPI.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response, status

from cartdesk.auth.deps import ConversationsRead, ConversationsWrite
from cartdesk.conversations import queries, service
from cartdesk.conversations.models import Priority, Status
from cartdesk.conversations.schemas import (
    ConversationCreate,
    ConversationCreated,
    ConversationDetail,
    ConversationFilters,
    ConversationRead,
    ConversationUpdate,
    MergeIn,
    MessageCreate,
    MessageRead,
    Page,
)
from cartdesk.db.deps import DbSession
from cartdesk.events import service as events_service
from cartdesk.events.schemas import EventRead
from cartdesk.kit.errors import NotFound, ValidationFailed
from cartdesk.kit.jsonresp import json_response
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router

router = Router(
    prefix="/api/v1/conversations", tags=["conversations"], responses=error_responses(401, 403, 404, 422)
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationCreated,
             summary="Open a conversation with the customer's first message")
async def create_conversation(body: ConversationCreate, session: DbSession, principal: ConversationsWrite) -> Response:
    """Finds or creates the customer by email (or phone), numbers the conversation per brand and
    stores the first message. With ``message.external_id`` the call is idempotent."""
    conversation, message = service.open_conversation(session, actor=principal.actor, conversation_in=body)
    return json_response(
        {"id": conversation.id, "number": conversation.number, "brand_id": conversation.brand_id,
         "status": conversation.status, "customer_id": conversation.customer_id, "message_id": message.id},
        status_code=201,
    )


@router.get("", response_model=Page[ConversationRead], summary="List conversations (inbox views)")
async def list_conversations(
    session: DbSession,
    principal: ConversationsRead,
    status_: Annotated[list[str] | None, Query(alias="status", description="repeat or comma-separate")] = None,
    assignee: Annotated[str | None, Query(description="user id, 'me' or 'none'")] = None,
    team: int | None = None,
    tag: str | None = None,
    channel: str | None = None,
    customer: int | None = None,
    brand: int | None = None,
    priority: Priority | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: str | None = None,
) -> Response:
    """Most recent activity first. Pages are keyset-paged: pass ``next_cursor`` back as ``cursor``;
    a deep page costs the same as the first."""
    filters = ConversationFilters(
        status=_split(status_), assignee=assignee, team=team, tag=tag, channel=channel, customer=customer,
        brand=brand, priority=priority,
    )
    page = queries.list_page(session, principal=principal, filters=filters, limit=limit, cursor=cursor)
    return json_response(page)


def _split(values: list[str] | None) -> list[Status] | None:
    if not values:
        return None
    out = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                try:
                    out.append(Status(part.strip()))
                except ValueError as exc:
                    raise ValidationFailed(
                        f"Unknown status {part.strip()!r}.",
                        details=[{"field": "status", "allowed": [s.value for s in Status]}],
                    ) from exc
    return out or None


@router.get("/{conversation_id}", response_model=ConversationDetail, summary="Get a conversation")
async def get_conversation(conversation_id: int, session: DbSession, principal: ConversationsRead) -> Response:
    """The conversation with its customer, tags and every message (notes included)."""
    data = queries.get_detail(session, principal=principal, conversation_id=conversation_id)
    if data is None:
        raise NotFound(f"Conversation {conversation_id} does not exist.", details={"id": conversation_id})
    return json_response(data)


@router.patch("/{conversation_id}", response_model=ConversationRead, summary="Change status, priority, assignee, team or tags",
              responses=error_responses(409))
async def update_conversation(
    conversation_id: int, body: ConversationUpdate, session: DbSession, principal: ConversationsWrite
) -> ConversationRead:
    """Only the fields given change. A status change the rules do not allow (e.g. out of
    ``closed``) is a 409."""
    conversation = service.get_or_raise(session, conversation_id=conversation_id, principal=principal)
    service.update(session, principal=principal, conversation=conversation, update_in=body)
    return ConversationRead.model_validate(conversation)


@router.post("/{conversation_id}/messages", status_code=status.HTTP_201_CREATED, response_model=MessageRead,
             summary="Reply to the customer or add an internal note")
async def add_message(
    conversation_id: int, body: MessageCreate, session: DbSession, principal: ConversationsWrite
) -> Response:
    """A reply is delivered on the conversation's channel by a durable job after commit (its
    ``delivery_status`` moves from queued to sent or failed); a note is only for the team."""
    conversation = service.get_or_raise(session, conversation_id=conversation_id, principal=principal, bare=True)
    message = service.add_message(session, principal=principal, conversation=conversation, message_in=body)
    return json_response(MessageRead.model_validate(message).model_dump(), status_code=201)


@router.post("/{conversation_id}/merge", response_model=ConversationRead,
             summary="Merge another conversation into this one", responses=error_responses(409))
async def merge_conversation(
    conversation_id: int, body: MergeIn, session: DbSession, principal: ConversationsWrite
) -> ConversationRead:
    """``source_id``'s messages and history move here; the source is closed and points here."""
    target = service.get_or_raise(session, conversation_id=conversation_id, principal=principal)
    source = service.get_or_raise(session, conversation_id=body.source_id, principal=principal)
    service.merge(session, principal=principal, target=target, source=source)
    return ConversationRead.model_validate(target)


@router.get("/{conversation_id}/events", response_model=list[EventRead], summary="A conversation's history")
async def list_conversation_events(
    conversation_id: int, session: DbSession, principal: ConversationsRead
) -> list[EventRead]:
    """The audit log of the conversation, oldest first (its latest 500 entries): who changed
    what and when, with the values before and after."""
    conversation = service.get_or_raise(session, conversation_id=conversation_id, principal=principal)
    events = events_service.list_for_conversation(session, conversation_id=conversation.id)
    return [EventRead.model_validate(e) for e in events]
