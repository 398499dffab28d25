"""REST API for conversations. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from cartdesk.auth.deps import ConversationsRead, ConversationsWrite
from cartdesk.conversations import service
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
from cartdesk.customers.schemas import CustomerRead
from cartdesk.db.deps import DbSession

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationCreated)
def create_conversation(body: ConversationCreate, session: DbSession, principal: ConversationsWrite) -> ConversationCreated:
    conversation = service.create(session, actor=principal.actor, conversation_in=body)
    first = service.list_messages(session, conversation_id=conversation.id)[-1]
    return ConversationCreated(
        id=conversation.id, number=conversation.number, brand_id=conversation.brand_id,
        status=conversation.status, customer_id=conversation.customer_id, message_id=first.id,
    )


@router.get("", response_model=Page[ConversationRead])
def list_conversations(
    session: DbSession,
    principal: ConversationsRead,
    status_: Annotated[list[Status] | None, Query(alias="status", description="repeat or comma-separate")] = None,
    assignee: Annotated[str | None, Query(description="user id, 'me' or 'none'")] = None,
    team: int | None = None,
    tag: str | None = None,
    channel: str | None = None,
    customer: int | None = None,
    brand: int | None = None,
    priority: Priority | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: str | None = None,
) -> Page[ConversationRead]:
    filters = ConversationFilters(
        status=status_, assignee=assignee, team=team, tag=tag, channel=channel, customer=customer,
        brand=brand, priority=priority,
    )
    result = service.list_conversations(session, principal=principal, filters=filters, limit=limit, cursor=cursor)
    return Page[ConversationRead](
        items=[ConversationRead.model_validate(c) for c in result.items], next_cursor=result.next_cursor
    )


@router.get("/{conversation_id}", response_model=ConversationDetail)
def get_conversation(conversation_id: int, session: DbSession, principal: ConversationsRead) -> ConversationDetail:
    conversation = service.get_or_raise(session, conversation_id=conversation_id, principal=principal)
    messages = service.list_messages(session, conversation_id=conversation.id)
    base = ConversationRead.model_validate(conversation).model_dump()
    base["customer"] = CustomerRead.model_validate(conversation.customer)
    base["messages"] = [MessageRead.model_validate(m) for m in messages]
    return ConversationDetail.model_validate(base)


@router.patch("/{conversation_id}", response_model=ConversationRead)
def update_conversation(
    conversation_id: int, body: ConversationUpdate, session: DbSession, principal: ConversationsWrite
) -> ConversationRead:
    conversation = service.get_or_raise(session, conversation_id=conversation_id, principal=principal)
    service.update(session, principal=principal, conversation=conversation, update_in=body)
    return ConversationRead.model_validate(conversation)


@router.post("/{conversation_id}/messages", status_code=status.HTTP_201_CREATED, response_model=MessageRead)
def add_message(
    conversation_id: int, body: MessageCreate, session: DbSession, principal: ConversationsWrite
) -> MessageRead:
    conversation = service.get_or_raise(session, conversation_id=conversation_id, principal=principal)
    message = service.add_message(session, principal=principal, conversation=conversation, message_in=body)
    return MessageRead.model_validate(message)


@router.post("/{conversation_id}/merge", response_model=ConversationRead)
def merge_conversation(
    conversation_id: int, body: MergeIn, session: DbSession, principal: ConversationsWrite
) -> ConversationRead:
    target = service.get_or_raise(session, conversation_id=conversation_id, principal=principal)
    source = service.get_or_raise(session, conversation_id=body.source_id, principal=principal)
    service.merge(session, principal=principal, target=target, source=source)
    return ConversationRead.model_validate(target)
