"""The inbound mail's own HTML, for an agent who wants to see it as the customer sent it.

Read from the raw mail kept in the attachment store (so it is the original, not our
folded text), sanitised with nh3 (``kit.html.sanitize_html``: no scripts, styles,
event handlers or odd URL schemes) and served by the web layer in a sandbox.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.channels.email import parsing
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Message
from cartdesk.kit.errors import NotFound
from cartdesk.kit.html import sanitize_html
from cartdesk.kit.storage import AttachmentStore


def original_html(session: Session, *, message_id: int, principal: Principal, store: AttachmentStore) -> str:
    """The sanitised HTML of an inbound mail the principal may see; NotFound otherwise
    (no such message, not the principal's conversation, no raw mail, or no HTML part)."""
    message = session.get(Message, message_id)
    missing = NotFound(f"Message {message_id} has no original HTML.", details={"id": message_id})
    if message is None:
        raise missing
    # The same visibility as the conversation itself (and the same answer when it is not ours).
    conversations_service.get_or_raise(session, conversation_id=message.conversation_id, principal=principal)
    key = ((message.meta or {}).get("email") or {}).get("raw_key")
    if not key or not store.exists(key):
        raise missing
    parsed = parsing.parse(b"".join(store.open(key)))
    if not parsed.html:
        raise missing
    return sanitize_html(parsed.html)
