"""Files a visitor sends in the chat: images and PDFs, checked by content, size-capped.

Like the API's upload route, the body is streamed to a staging file with no
transaction open, then one short write stores the row. The content type is taken
from the file's first bytes, never from what the browser claims.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import or_, select

from cartdesk.channels.chat import service as chat_service
from cartdesk.channels.chat.models import ChatLogEntry, ChatUpload
from cartdesk.channels.chat.socket import tokens_of
from cartdesk.conversations.attachment_routes import _disposition, _receive_file, attachment_store
from cartdesk.conversations.models import Attachment
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import AppError, NotFound, PayloadTooLarge
from cartdesk.kit.storage import Staged, StagingFile, safe_filename

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
_FRAMING = 64 * 1024
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
_INLINE = {"image/png", "image/jpeg", "image/gif", "image/webp"}


class UnsupportedType(AppError):
    status_code = 415
    code = "unsupported_media_type"


def sniff(head: bytes) -> str | None:
    for magic, content_type in _SIGNATURES:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _visitor_id(request: Request, token: str | None) -> int:
    with request.app.state.db.transaction(read_only=True) as session:
        return chat_service.visitor_from_token(session, tokens=tokens_of(request.app), token=token).id


async def receive(request: Request, *, token: str | None) -> dict[str, Any]:
    visitor_id = await run_in_threadpool(_visitor_id, request, token)
    limit = min(MAX_UPLOAD_BYTES, request.app.state.settings.max_attachment_bytes)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _FRAMING:
        raise PayloadTooLarge(f"Files can be up to {limit // (1024 * 1024)} MB.", details={"max_bytes": limit})
    store = attachment_store(request)
    with StagingFile(store.staging_dir, max_bytes=limit) as staging:
        part = await _receive_file(request, staging)
        staged = staging.finish()
    try:
        with staged.path.open("rb") as fh:
            content_type = sniff(fh.read(16))
        if content_type is None:
            raise UnsupportedType("Only images (PNG, JPEG, GIF, WebP) and PDF files can be sent.",
                                  details={"allowed": ["image/png", "image/jpeg", "image/gif", "image/webp",
                                                       "application/pdf"]})
        return await run_in_threadpool(_record, request, visitor_id, staged, part.filename, content_type)
    finally:
        staged.path.unlink(missing_ok=True)


def _record(request: Request, visitor_id: int, staged: Staged, filename: str | None,
            content_type: str) -> dict[str, Any]:
    key = attachment_store(request).save(staged, content_type=content_type)
    with request.app.state.db.transaction() as session:
        attachment = Attachment(filename=safe_filename(filename), content_type=content_type, size=staged.size,
                                sha256=staged.sha256, storage_key=key, created_at=utcnow())
        session.add(attachment)
        session.flush()
        session.add(ChatUpload(attachment_id=attachment.id, visitor_id=visitor_id))
        events_service.record(session, verb="attachment.uploaded", actor=Actor(type="customer"),
                              subject_type="attachment", subject_id=attachment.id,
                              data={"filename": attachment.filename, "size": attachment.size, "chat_visitor": visitor_id})
        return {"id": attachment.id, "filename": attachment.filename, "content_type": content_type,
                "size": attachment.size}


def _find(request: Request, attachment_id: int, token: str | None) -> Attachment:
    with request.app.state.db.transaction(read_only=True) as session:
        visitor = chat_service.visitor_from_token(session, tokens=tokens_of(request.app), token=token)
        # The visitor's own upload, or a file on a message in the visitor's chat log.
        found = session.scalar(
            select(Attachment)
            .outerjoin(ChatUpload, ChatUpload.attachment_id == Attachment.id)
            .outerjoin(ChatLogEntry, ChatLogEntry.message_id == Attachment.message_id)
            .where(Attachment.id == attachment_id,
                   or_(ChatUpload.visitor_id == visitor.id, ChatLogEntry.visitor_id == visitor.id))
        )
        if found is None:
            raise NotFound(f"Attachment {attachment_id} does not exist.", details={"id": attachment_id})
        session.expunge(found)
        return found


async def download(request: Request, *, attachment_id: int, token: str | None) -> StreamingResponse:
    attachment = await run_in_threadpool(_find, request, attachment_id, token)
    chunks = await run_in_threadpool(attachment_store(request).open, attachment.storage_key)
    return StreamingResponse(chunks, media_type=attachment.content_type, headers={
        "Content-Length": str(attachment.size),
        "Content-Disposition": _disposition(attachment.filename, inline=attachment.content_type in _INLINE),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
    })
