"""The agent's side of live chat: availability (online / away / offline) and the chat card.

Availability is stored on the user (``users.availability``), shown in the rail, and
read by ``channels.chat.service.online_agents`` — what the widget uses to say
whether anyone is there, and what routing can use to pick an agent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Availability
from cartdesk.auth.schemas import UserUpdate
from cartdesk.channels.chat import service as chat_service
from cartdesk.conversations.models import Conversation
from cartdesk.db.deps import DbSession
from cartdesk.kit.errors import ValidationFailed
from cartdesk.kit.routing import Router
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.templating import render

router = Router(prefix="/chat")

LABELS = {"online": "Online", "away": "Away", "offline": "Offline"}


@router.get("/availability")
def availability(request: Request, session: DbSession, principal: AgentPrincipal) -> Response:
    user = auth_service.get_or_raise(session, user_id=principal.user_id)
    return render(request, "chat/_availability.html", {"current": str(user.availability), "labels": LABELS})


@router.post("/availability")
def set_availability(
    request: Request, session: DbSession, principal: AgentPrincipal, availability: Annotated[str, Form()]
) -> Response:
    if availability not in LABELS:
        raise ValidationFailed("Availability is online, away or offline.", details=[{"field": "availability"}])
    user = auth_service.get_or_raise(session, user_id=principal.user_id)
    auth_service.update_user(session, actor=principal.actor, user=user,
                             user_in=UserUpdate(availability=Availability(availability)))
    return render(request, "chat/_availability.html", {"current": availability, "labels": LABELS})


def card(session: Session, *, conversation: Conversation) -> dict[str, Any] | None:
    """What the conversation page shows about a live chat: the shopper's page, whether they
    are still there, and the read receipts."""
    if conversation.channel != chat_service.CHANNEL:
        return None
    visitor = chat_service.visitor_for_conversation(session, conversation_id=conversation.id)
    if visitor is None:
        return None
    return {
        "visitor": visitor,
        "live": chat_service.is_live(visitor),
        "latest_seq": chat_service.latest_seq(session, visitor_id=visitor.id),
        "latest_reply_seq": chat_service.latest_seq(session, visitor_id=visitor.id, replies_only=True),
    }
