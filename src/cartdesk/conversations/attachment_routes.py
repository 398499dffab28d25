"""REST API for attachments: upload a file, then name its id in a message; download it back.

The upload route is its own transaction boundary. It reads the body as a stream
and must not hold a database transaction meanwhile (on SQLite a write
transaction is the database-wide write lock, and an upload can take minutes), so
it authenticates in one short read, streams the file to a staging file with no
transaction open, and then writes the row in one short write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from python_multipart.multipart import MultipartParser, parse_options_header

from cartdesk.auth.deps import ConversationsRead, current_principal, optional_principal
from cartdesk.auth.schemas import Principal
from cartdesk.conversations import attachments
from cartdesk.db.deps import DbSession
from cartdesk.kit.errors import AppError, Forbidden, PayloadTooLarge, ValidationFailed
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router
from cartdesk.kit.storage import AttachmentStore, Staged, StagingFile, create_store

router = Router(prefix="/api/v1/attachments", tags=["attachments"], responses=error_responses(401, 403, 404, 422))

# Multipart framing and the part headers around the file: a body longer than the
# file limit plus this cannot hold an acceptable file.
_FRAMING_ALLOWANCE = 64 * 1024
# Only these are shown inline; anything else (HTML, SVG, PDF …) is a download so
# that an uploaded file can never run script in our origin.
_INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


class AttachmentDetail(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    message_id: int | None
    created_at: datetime


def attachment_store(request: Request) -> AttachmentStore:
    """The app's store, built from settings on first use (nothing connects at import or start-up)."""
    store = getattr(request.app.state, "attachment_store", None)
    if store is None:
        store = request.app.state.attachment_store = create_store(request.app.state.settings)
    return store


async def _authenticate_writer(request: Request) -> Principal:
    with request.app.state.db.transaction(read_only=True) as session:
        principal = await current_principal(await optional_principal(request, session))
    if not principal.has_scope("conversations:write"):
        raise Forbidden("This token lacks the conversations:write scope.", details={"scope": "conversations:write"})
    return principal


class _FilePart:
    """Callbacks for python-multipart's streaming parser: the first part named ``file`` goes to staging."""

    def __init__(self, staging: StagingFile, *, field: str = "file") -> None:
        self.staging = staging
        self.field = field
        self.headers: dict[bytes, bytes] = {}
        self._name = b""
        self._value = b""
        self.in_file = False
        self.found = False
        self.filename: str | None = None
        self.content_type: str | None = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: setattr(self, "_name", self._name + data[start:end]),
            "on_header_value": lambda data, start, end: setattr(self, "_value", self._value + data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self.headers = {}

    def _header_end(self) -> None:
        self.headers[self._name.lower()] = self._value
        self._name, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self.in_file = not self.found and name == self.field and b"filename" in options
        if self.in_file:
            self.filename = options[b"filename"].decode("utf-8", "replace")
            self.content_type = self.headers.get(b"content-type", b"").decode("latin-1")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.staging.write(data[start:end])

    def _part_end(self) -> None:
        if self.in_file:
            self.found, self.in_file = True, False


async def _receive_file(request: Request, staging: StagingFile) -> _FilePart:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise ValidationFailed(
            "Send the file as multipart/form-data in a field named 'file'.", details=[{"field": "file"}]
        )
    part = _FilePart(staging)
    parser = MultipartParser(options[b"boundary"], part.callbacks())
    # The file part is capped by the staging file; this caps the body as a whole,
    # so that other parts cannot stream without end either.
    body_limit, received = staging.max_bytes + _FRAMING_ALLOWANCE, 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise PayloadTooLarge(
                    f"The request is larger than the {staging.max_bytes} byte limit.",
                    details={"max_bytes": staging.max_bytes},
                )
            parser.write(chunk)
        parser.finalize()
    except AppError:
        raise
    except Exception as exc:  # python-multipart's own parse errors
        raise ValidationFailed("The multipart body is malformed.", details=[{"field": "file"}]) from exc
    if not part.found:
        raise ValidationFailed("No file found: send it in a multipart field named 'file'.", details=[{"field": "file"}])
    return part


def _record(request: Request, principal: Principal, staged: Staged, part: _FilePart) -> AttachmentDetail:
    with request.app.state.db.transaction() as session:
        attachment = attachments.create(
            session, store=attachment_store(request), principal=principal, staged=staged,
            filename=part.filename, content_type=part.content_type,
        )
        return AttachmentDetail.model_validate(attachment)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AttachmentDetail,
    summary="Upload an attachment",
    responses=error_responses(413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def upload_attachment(request: Request) -> AttachmentDetail:
    """Upload one file (multipart field `file`). Put the returned `id` in `attachment_ids` of
    `POST /api/v1/conversations/{id}/messages` to send it. Files over the configured limit are
    refused with 413 as soon as they cross it. Needs the `conversations:write` scope."""
    principal = await _authenticate_writer(request)
    max_bytes = request.app.state.settings.max_attachment_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + _FRAMING_ALLOWANCE:
        raise PayloadTooLarge(
            f"The file is larger than the {max_bytes} byte limit.", details={"max_bytes": max_bytes}
        )
    store = attachment_store(request)
    with StagingFile(store.staging_dir, max_bytes=max_bytes) as staging:
        part = await _receive_file(request, staging)
        staged = staging.finish()
    try:
        return await run_in_threadpool(_record, request, principal, staged, part)
    finally:
        staged.path.unlink(missing_ok=True)  # already moved into the store unless saving failed


def _disposition(filename: str, *, inline: bool) -> str:
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/{attachment_id}",
    response_class=StreamingResponse,
    summary="Download an attachment",
    responses={200: {"description": "The file's bytes", "content": {"application/octet-stream": {}}}},
)
async def download_attachment(
    attachment_id: int, request: Request, session: DbSession, principal: ConversationsRead
) -> StreamingResponse:
    """Stream a file back. Allowed when you may read its conversation, or, before it is sent
    on a message, when you uploaded it; anything else is 404."""
    attachment = attachments.get_or_raise(session, attachment_id=attachment_id, principal=principal)
    # Opening may be a network call (S3); the body is then read in the thread pool
    # by StreamingResponse, chunk by chunk.
    chunks = await run_in_threadpool(attachment_store(request).open, attachment.storage_key)
    inline = attachment.content_type in _INLINE_TYPES
    return StreamingResponse(
        chunks,
        media_type=attachment.content_type,
        headers={
            "Content-Length": str(attachment.size),
            "Content-Disposition": _disposition(attachment.filename, inline=inline),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=3600",
            "ETag": f'"{attachment.sha256}"',
        },
    )
