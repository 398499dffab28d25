"""The conversation page and the agent's moves on it: reply, note, status, assign,
team, priority, tags, merge.

Each move is a small form. With htmx the answer is the page fragment (the browser
swaps the header, thread and side panel, and leaves a half-written reply alone);
without JavaScript it is a redirect back to the page. A rule the service refuses
(a Conflict, a bad value) rolls the transaction back and shows inline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.schemas import Principal
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation, Status
from cartdesk.conversations.schemas import ConversationFilters, ConversationUpdate, MessageCreate
from cartdesk.db.deps import DbSession
from cartdesk.events import service as events_service
from cartdesk.kit.errors import AppError, NotFound, ValidationFailed
from cartdesk.kit.routing import Router
from cartdesk.web.agent import activity
from cartdesk.web.agent import chat as chat_web
from cartdesk.web.agent.common import int_or_none, priority_or_none, sidebar
from cartdesk.web.agent.store import panel as store_panel
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.security import flash
from cartdesk.web.templating import PRIORITY_LABELS, STATUS_LABELS, is_htmx, render

router = Router(prefix="/conversations")

# Header so that app.js swaps an inline error into place instead of raising a toast.
INLINE_HEADER = "X-Cartdesk-Inline"
Notice = tuple[str, str]  # (kind, text)


def _page(
    request: Request, session: Session, principal: Principal, conversation_id: int, *,
    notice: Notice | None = None, status_code: int = 200,
) -> Response:
    conversation = conversations_service.get_or_raise(session, conversation_id=conversation_id, principal=principal)
    users = auth_service.list_users(session)
    teams = auth_service.list_teams(session)
    others = conversations_service.list_conversations(
        session, principal=principal, filters=ConversationFilters(customer=conversation.customer_id), limit=7
    ).items
    names = activity.Names(
        users={u.id: u.name for u in users}, teams={t.id: t.name for t in teams},
        customer=conversation.customer.display_name,
    )
    events = events_service.list_for_conversation(session, conversation_id=conversation.id, limit=200)
    response = render(request, "agent/conversation.html", {
        **sidebar(session, principal=principal, active=None),
        "nav": "inbox",
        "c": conversation,
        "customer": conversation.customer,
        "messages": conversations_service.list_messages(session, conversation_id=conversation.id),
        "history": activity.lines(events, names),
        "others": [o for o in others if o.id != conversation.id][:6],
        "agents": [u for u in users if u.is_active],
        "teams": teams,
        "next_statuses": conversations_service.ALLOWED_TRANSITIONS[Status(conversation.status)],
        "notice": notice,
        **store_panel(session, customer_id=conversation.customer_id),  # the customer 360 beside the thread
        "chat": chat_web.card(session, conversation=conversation),
    }, status_code=status_code)
    if notice and notice[0] == "error":
        response.headers[INLINE_HEADER] = "1"
    return response


@router.get("/{conversation_id}", name="conversation")
def conversation_page(
    request: Request, conversation_id: int, session: DbSession, principal: AgentPrincipal
) -> Response:
    return _page(request, session, principal, conversation_id)


def _act(
    request: Request, session: Session, principal: Principal, conversation_id: int,
    action: Callable[[Conversation], str],
) -> Response:
    """Run one move; on success show what happened, on a refused rule show why (nothing half-done)."""
    conversation = conversations_service.get_or_raise(session, conversation_id=conversation_id, principal=principal)
    try:
        done = action(conversation)
    except (AppError, ValidationError) as exc:
        session.rollback()
        if isinstance(exc, AppError):
            message, status_code = exc.message, exc.status_code
        else:
            message, status_code = _validation_message(exc), 422
        return _page(request, session, principal, conversation_id, notice=("error", message), status_code=status_code)
    if not is_htmx(request):
        flash(request, done)
        return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)
    return _page(request, session, principal, conversation_id, notice=("success", done))


def _validation_message(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error.get("loc", ()))
    if field == "body":
        return "Write a message first."
    return f"{field.replace('_', ' ').capitalize()}: {error.get('msg', 'invalid value')}."


def _update(session: Session, principal: Principal, conversation: Conversation, **changes: object) -> None:
    conversations_service.update(
        session, principal=principal, conversation=conversation, update_in=ConversationUpdate(**changes)
    )


@router.post("/{conversation_id}/messages")
def add_message(
    request: Request, conversation_id: int, session: DbSession, principal: AgentPrincipal,
    body: Annotated[str, Form()] = "", kind: Annotated[str, Form()] = "reply", status: Annotated[str, Form()] = "",
) -> Response:
    def action(conversation: Conversation) -> str:
        message_in = MessageCreate(kind=kind, body=body.strip(), status=status or None)  # type: ignore[arg-type]
        conversations_service.add_message(session, principal=principal, conversation=conversation, message_in=message_in)
        if message_in.kind == "note":
            return "Note added."
        return f"Reply sent · status {STATUS_LABELS[str(conversation.status)]}."

    return _act(request, session, principal, conversation_id, action)


@router.post("/{conversation_id}/status")
def change_status(
    request: Request, conversation_id: int, session: DbSession, principal: AgentPrincipal,
    status: Annotated[str, Form()],
) -> Response:
    def action(conversation: Conversation) -> str:
        _update(session, principal, conversation, status=status)
        return f"Marked as {STATUS_LABELS[str(conversation.status)].lower()}."

    return _act(request, session, principal, conversation_id, action)


@router.post("/{conversation_id}/assign")
def assign(
    request: Request, conversation_id: int, session: DbSession, principal: AgentPrincipal,
    assignee: Annotated[str, Form()] = "",
) -> Response:
    def action(conversation: Conversation) -> str:
        assignee_id = principal.user_id if assignee == "me" else int_or_none(assignee)
        _update(session, principal, conversation, assignee_id=assignee_id)
        if conversation.assignee is None:
            return "Unassigned."
        return "Assigned to you." if assignee_id == principal.user_id else f"Assigned to {conversation.assignee.name}."

    return _act(request, session, principal, conversation_id, action)


@router.post("/{conversation_id}/team")
def set_team(
    request: Request, conversation_id: int, session: DbSession, principal: AgentPrincipal,
    team: Annotated[str, Form()] = "",
) -> Response:
    def action(conversation: Conversation) -> str:
        _update(session, principal, conversation, team_id=int_or_none(team))
        session.refresh(conversation, ["team"])
        return f"Moved to {conversation.team.name}." if conversation.team else "Team removed."

    return _act(request, session, principal, conversation_id, action)


@router.post("/{conversation_id}/priority")
def set_priority(
    request: Request, conversation_id: int, session: DbSession, principal: AgentPrincipal,
    priority: Annotated[str, Form()] = "",
) -> Response:
    def action(conversation: Conversation) -> str:
        _update(session, principal, conversation, priority=priority_or_none(priority) or priority)
        return f"Priority set to {PRIORITY_LABELS[str(conversation.priority)].lower()}."

    return _act(request, session, principal, conversation_id, action)


@router.post("/{conversation_id}/tags")
def add_tags(
    request: Request, conversation_id: int, session: DbSession, principal: AgentPrincipal,
    tag: Annotated[str, Form()] = "",
) -> Response:
    def action(conversation: Conversation) -> str:
        new = [t.strip() for t in tag.split(",") if t.strip()]
        if not new:
            raise ValidationFailed("Type a tag to add.")
        _update(session, principal, conversation, tags=[*conversation.tag_names, *new])
        return "Tag added." if len(new) == 1 else "Tags added."

    return _act(request, session, principal, conversation_id, action)


@router.post("/{conversation_id}/tags/remove")
def remove_tag(
    request: Request, conversation_id: int, session: DbSession, principal: AgentPrincipal,
    tag: Annotated[str, Form()],
) -> Response:
    def action(conversation: Conversation) -> str:
        _update(session, principal, conversation, tags=[t for t in conversation.tag_names if t != tag])
        return f"Removed tag {tag}."

    return _act(request, session, principal, conversation_id, action)


@router.post("/{conversation_id}/merge")
def merge(
    request: Request, conversation_id: int, session: DbSession, principal: AgentPrincipal,
    source: Annotated[str, Form()] = "",
) -> Response:
    def action(target: Conversation) -> str:
        number = int_or_none(source.strip().lstrip("#"))
        if number is None:
            raise ValidationFailed("Enter the number of the conversation to merge, like 1042.")
        found = conversations_service.get_by_number(session, brand_id=target.brand_id, number=number)
        if found is None:
            raise NotFound(f"There is no conversation #{number} in this store.")
        # Visibility is checked like any other read: merging must not reveal another team's case.
        other = conversations_service.get_or_raise(session, conversation_id=found.id, principal=principal)
        conversations_service.merge(session, principal=principal, target=target, source=other)
        return f"Merged #{number} into this conversation."

    return _act(request, session, principal, conversation_id, action)
