"""REST API of the email channel: the inbound webhook and mailbox administration (admins)."""

from __future__ import annotations

import base64
import binascii
import json

from fastapi import Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from cartdesk.auth.deps import AdminPrincipal
from cartdesk.channels.email import connection, ingest
from cartdesk.channels.email import service as email_service
from cartdesk.channels.email.schemas import (
    ConnectionTestRead,
    IngestRead,
    MailboxCreate,
    MailboxRead,
    MailboxUpdate,
    QuarantineRead,
)
from cartdesk.channels.email.tasks import limits
from cartdesk.conversations.attachment_routes import attachment_store
from cartdesk.db.deps import DbSession
from cartdesk.db.session import on_commit
from cartdesk.kit.errors import NotFound, PayloadTooLarge, ValidationFailed
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router

router = Router(prefix="/api/v1/channels/email", tags=["email"], responses=error_responses(401, 403, 422))


async def _raw_mime(request: Request, max_bytes: int) -> bytes:
    """The raw mail from a provider's webhook: a message/rfc822 body, a form field
    (Mailgun ``body-mime``, SendGrid ``email``), or JSON with ``raw``/``RawEmail`` (base64 or text)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form(max_part_size=max_bytes)
        for field in ("body-mime", "email", "raw"):
            value = form.get(field)
            if value is not None:
                return value.encode() if isinstance(value, str) else await value.read()
        raise ValidationFailed("The form has no raw mail (body-mime, email or raw).", details=[{"field": "body-mime"}])
    body = await request.body()
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"The mail is larger than {max_bytes} bytes.")
    if ctype == "application/json":
        try:
            data = json.loads(body)
            value = data.get("raw") or data.get("RawEmail")
        except (ValueError, AttributeError) as exc:
            raise ValidationFailed("The JSON body has no raw mail.", details=[{"field": "raw"}]) from exc
        if not isinstance(value, str):
            raise ValidationFailed("The JSON body has no raw mail.", details=[{"field": "raw"}])
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value.encode()
    if not body:
        raise ValidationFailed("The request body is empty; send the raw mail.", details=[{"field": "body"}])
    return body


@router.post("/inbound/{secret}", response_model=IngestRead, summary="Receive one raw mail (webhook)",
             responses=error_responses(404, 413))
async def inbound(secret: str, request: Request) -> IngestRead:
    """For mail providers' inbound webhooks. The URL's secret names the mailbox. The
    answer comes after the mail was committed (filed or quarantined); a provider that
    gets no 200 retries, and a retried mail is stored once (Message-ID dedupe)."""
    settings = request.app.state.settings
    database = request.app.state.db
    with database.transaction(read_only=True) as session:
        mailbox = email_service.get_by_secret(session, secret=secret)
        mailbox_id = mailbox.id if mailbox is not None else None
    if mailbox_id is None:
        raise NotFound("No mailbox has this inbound address.")
    raw = await _raw_mime(request, settings.email_max_message_bytes)
    result = await run_in_threadpool(ingest.receive, database, raw=raw, source="webhook",
                                     store=attachment_store(request), limits=limits(settings), mailbox_id=mailbox_id)
    return IngestRead(outcome=result.outcome, conversation_id=result.conversation_id, message_id=result.message_id,
                      quarantine_id=result.quarantine_id, reason=result.reason)


@router.get("/mailboxes", response_model=list[MailboxRead], summary="List mailboxes")
def list_mailboxes(session: DbSession, principal: AdminPrincipal) -> list[MailboxRead]:
    """Every mailbox with its health facts (last fetch, last error, IDLE). Admins only; passwords never leave."""
    return [MailboxRead.model_validate(m) for m in email_service.list_mailboxes(session)]


@router.post("/mailboxes", status_code=status.HTTP_201_CREATED, response_model=MailboxRead, summary="Add a mailbox",
             responses=error_responses(409))
def create_mailbox(body: MailboxCreate, request: Request, session: DbSession, principal: AdminPrincipal) -> MailboxRead:
    """Add a support address to a brand. Passwords are encrypted at rest and never returned;
    the secret inbound webhook URL is shown on the mailbox's admin page."""
    mailbox = email_service.create(session, actor=principal.actor, mailbox_in=body,
                                   secret_key=request.app.state.settings.resolved_secret_key())
    on_commit(session, request.app.state.runner.poke_services)  # pollers pick it up now, not in 30 s
    return MailboxRead.model_validate(mailbox)


@router.patch("/mailboxes/{mailbox_id}", response_model=MailboxRead, summary="Change a mailbox",
              responses=error_responses(404, 409))
def update_mailbox(mailbox_id: int, body: MailboxUpdate, request: Request, session: DbSession,
                   principal: AdminPrincipal) -> MailboxRead:
    """Change the fields given. An empty password keeps the current one."""
    mailbox = email_service.get_or_raise(session, mailbox_id=mailbox_id)
    mailbox = email_service.update(session, actor=principal.actor, mailbox=mailbox, mailbox_in=body,
                                   secret_key=request.app.state.settings.resolved_secret_key())
    on_commit(session, request.app.state.runner.poke_services)
    return MailboxRead.model_validate(mailbox)


@router.post("/mailboxes/{mailbox_id}/test", summary="Test the mailbox's IMAP and SMTP logins",
             response_model=ConnectionTestRead, responses=error_responses(404))
def test_mailbox(mailbox_id: int, request: Request, session: DbSession, principal: AdminPrincipal) -> dict:
    """Log in to the IMAP and SMTP servers now and report what each said (``ok`` is null when not configured)."""
    mailbox = email_service.get_or_raise(session, mailbox_id=mailbox_id)
    key = request.app.state.settings.resolved_secret_key()
    imap, smtp = connection.check_imap(mailbox, secret_key=key), connection.check_smtp(mailbox, secret_key=key)
    return {"imap": {"ok": imap.ok, "detail": imap.detail}, "smtp": {"ok": smtp.ok, "detail": smtp.detail}}


@router.get("/quarantine", response_model=list[QuarantineRead], summary="Mail that did not become a message")
def list_quarantine(session: DbSession, principal: AdminPrincipal, mailbox_id: int | None = None) -> list[QuarantineRead]:
    """Newest first: unparseable, too large, auto-replies and bounces, floods, spam, unknown senders."""
    return [QuarantineRead.model_validate(q) for q in email_service.list_quarantine(session, mailbox_id=mailbox_id)]


@router.get("/quarantine/{quarantine_id}/raw", summary="The quarantined mail's raw bytes (.eml)",
            response_class=Response,
            responses={200: {"content": {"message/rfc822": {}}, "description": "The raw mail"},
                       **error_responses(404)})
def quarantine_raw(quarantine_id: int, session: DbSession, principal: AdminPrincipal) -> Response:
    """Exactly the bytes that arrived, to inspect or re-send by hand."""
    row = email_service.get_quarantined_or_raise(session, quarantine_id=quarantine_id)
    email_service.mark_quarantine_viewed(session, quarantined=row)
    return Response(row.raw, media_type="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="quarantine-{row.id}.eml"'})


@router.post("/quarantine/{quarantine_id}/release", response_model=IngestRead, summary="File a quarantined mail after all",
             responses=error_responses(404, 409))
def release_quarantined(quarantine_id: int, request: Request, session: DbSession, principal: AdminPrincipal) -> IngestRead:
    """Files the mail into its conversation without the noise rules (loops, spam, unknown senders, rate
    limit). 409 for bounces and mail without a mailbox, and for mail that still cannot be parsed."""
    row = email_service.get_quarantined_or_raise(session, quarantine_id=quarantine_id)
    result = ingest.release(session, actor=principal.actor, quarantined=row, store=attachment_store(request),
                            limits=limits(request.app.state.settings))
    return IngestRead(outcome=result.outcome, conversation_id=result.conversation_id, message_id=result.message_id)
