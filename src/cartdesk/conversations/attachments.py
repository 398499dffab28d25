"""Attachments: uploads that become part of a message.

An upload is stored first (bytes in the attachment store, a row here with no
message) and is attached when its uploader sends a message naming it. Until then
only the uploader can see it; afterwards, whoever may read the conversation.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.conversations.models import Attachment, Conversation, Message
from cartdesk.conversations.service import visible_to
from cartdesk.events import service as events_service
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import NotFound, ValidationFailed
from cartdesk.kit.storage import AttachmentStore, Staged, safe_filename

DEFAULT_CONTENT_TYPE = "application/octet-stream"


def _clean_content_type(raw: str | None) -> str:
    value = (raw or "").split(";")[0].strip().lower()
    # A bare type/subtype of ordinary characters, or the neutral default.
    if not value or len(value) > 100 or value.count("/") != 1 or not all(c.isalnum() or c in "/.+-" for c in value):
        return DEFAULT_CONTENT_TYPE
    return value


def create(
    session: Session,
    *,
    store: AttachmentStore,
    principal: Principal,
    staged: Staged,
    filename: str | None,
    content_type: str | None,
) -> Attachment:
    """Keep a complete upload: bytes into the store, a row (not yet on a message) here.

    The blob is saved before the row: if the transaction later rolls back, an
    unreferenced content-addressed blob is left, which is harmless; the reverse
    order could leave a row pointing at nothing.
    """
    content_type = _clean_content_type(content_type)
    key = store.save(staged, content_type=content_type)
    attachment = Attachment(
        filename=safe_filename(filename),
        content_type=content_type,
        size=staged.size,
        sha256=staged.sha256,
        storage_key=key,
        uploaded_by_user_id=principal.user_id,
        created_at=utcnow(),
    )
    session.add(attachment)
    session.flush()
    events_service.record(
        session, verb="attachment.uploaded", actor=principal.actor, subject_type="attachment",
        subject_id=attachment.id, data={"filename": attachment.filename, "size": attachment.size},
    )
    return attachment


def get_or_raise(session: Session, *, attachment_id: int, principal: Principal) -> Attachment:
    """An attachment the principal may read: one on a conversation they can see, or their own upload.

    Permission is part of the query, and "missing" and "not yours" give the same 404.
    """
    on_visible_message = (
        select(Attachment)
        .join(Message, Message.id == Attachment.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Attachment.id == attachment_id, visible_to(principal))
    )
    own_upload = select(Attachment).where(
        Attachment.id == attachment_id,
        Attachment.message_id.is_(None),
        Attachment.uploaded_by_user_id == principal.user_id,
    )
    attachment = session.scalar(on_visible_message) or session.scalar(own_upload)
    if attachment is None:
        raise NotFound(f"Attachment {attachment_id} does not exist.", details={"id": attachment_id})
    return attachment


def attach(session: Session, *, message: Message, attachment_ids: Sequence[int]) -> list[Attachment]:
    """Put uploads on a message written by their uploader.

    Every id must be an upload of the message's author that is not on a message
    yet; otherwise nothing is attached and the caller's transaction (which also
    holds the new message) fails as a whole.
    """
    wanted = list(dict.fromkeys(attachment_ids))
    rows = session.scalars(
        select(Attachment).where(
            Attachment.id.in_(wanted),
            Attachment.message_id.is_(None),
            Attachment.uploaded_by_user_id == message.author_user_id,
            Attachment.uploaded_by_user_id.is_not(None),
        )
    ).all()
    found = {a.id for a in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ValidationFailed(
            "Unknown attachment id(s): each must be your own upload, not yet on a message.",
            details=[{"field": "attachment_ids", "invalid": missing}],
        )
    for attachment in rows:
        attachment.message_id = message.id
    session.flush()
    session.expire(message, ["attachments"])
    return sorted(rows, key=lambda a: wanted.index(a.id))
