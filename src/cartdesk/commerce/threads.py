"""Telling a conversation what happened to an order: a system line in its thread.

Commerce sits above conversations (like the channels do): order actions taken in a
conversation are written into it; conversation code never imports commerce.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cartdesk.conversations import service as conversations_service
from cartdesk.events.schemas import Actor


def tell_thread(session: Session, *, conversation_id: int | None, actor: Actor, body: str) -> None:
    if conversation_id is None:
        return
    conversation = conversations_service.get(session, conversation_id=conversation_id)
    if conversation is None or conversation.merged_into_id is not None:
        return
    conversations_service.system_note(session, conversation=conversation, body=body, actor=actor)
