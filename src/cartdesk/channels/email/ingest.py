"""Filing one raw mail: parse, drop noise, find its conversation, store it — in the caller's transaction.

:func:`ingest` is the one flow behind every inbound transport (IMAP, the SMTP
receiver, the HTTP webhook). It only flushes. :func:`receive` is the boundary the
transports call: one transaction per mail, and if filing raises, a second one that
quarantines the raw bytes with the error, so one bad mail never blocks the rest.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm import Session

from cartdesk.channels.email import loops, parsing, reply, threads
from cartdesk.channels.email import service as email_service
from cartdesk.channels.email.models import Mailbox, Quarantine, QuarantineReason
from cartdesk.channels.email.parsing import ParsedEmail, UnparseableEmail
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.attachments import _clean_content_type
from cartdesk.conversations.models import Attachment, Conversation, DeliveryStatus, Direction, Message
from cartdesk.conversations.schemas import ConversationCreate
from cartdesk.customers import service as customers_service
from cartdesk.customers.models import Customer, IdentityKind
from cartdesk.db.engine import Database
from cartdesk.events import service as events_service
from cartdesk.events.schemas import SYSTEM, Actor
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict
from cartdesk.kit.storage import AttachmentStore, StagingFile, safe_filename

log = logging.getLogger(__name__)
CHANNEL = "email"
_MAX_FULL_TEXT = 200_000


@dataclass(frozen=True, slots=True)
class Limits:
    max_message_bytes: int = 40 * 1024 * 1024
    max_attachment_bytes: int = 25 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class IngestResult:
    outcome: str  # created / appended / duplicate / quarantined
    conversation_id: int | None = None
    message_id: int | None = None
    quarantine_id: int | None = None
    reason: str | None = None


def receive(
    database: Database, *, raw: bytes, source: str, store: AttachmentStore, limits: Limits = Limits(),
    mailbox_id: int | None = None, recipients: Sequence[str] = (),
) -> IngestResult:
    """File one mail in its own transaction; on a failure of the mail quarantine it in another.

    A failure of the database itself (unreachable, locked, a lost connection) is raised
    instead: the mail is fine, so the transport keeps it and tries again later (IMAP
    leaves it unflagged, SMTP answers 451, the webhook answers 5xx).
    """
    try:
        with database.transaction() as session:
            mailbox = email_service.get(session, mailbox_id=mailbox_id) if mailbox_id else None
            return ingest(session, raw=raw, source=source, store=store, limits=limits, mailbox=mailbox,
                          recipients=recipients)
    except (OperationalError, InterfaceError, SATimeoutError):
        raise
    except Exception as exc:
        log.warning("mail from %s could not be filed; quarantined", source, exc_info=True)
        error = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_tb(exc.__traceback__)[-4:])
        with database.transaction() as session:
            row = email_service.quarantine(
                session, raw=raw, source=source, reason=QuarantineReason.unparseable, error=error,
                message_key=_key(raw), mailbox_id=mailbox_id,
            )
            return IngestResult("quarantined", quarantine_id=row.id, reason=str(QuarantineReason.unparseable))


def release(session: Session, *, actor: Actor, quarantined: Quarantine, store: AttachmentStore,
            limits: Limits = Limits()) -> IngestResult:
    """An admin files a quarantined mail after all (a flood that was one real customer, a
    false auto-reply, a mail a parser fix can now read). The quarantine row goes away once
    the mail is a message; a mail that still cannot be filed stays where it is."""
    if quarantined.reason in (QuarantineReason.bounce, QuarantineReason.no_mailbox) or quarantined.mailbox_id is None:
        raise Conflict(f"A {quarantined.reason} mail cannot be filed into a conversation.",
                       details={"reason": str(quarantined.reason)})
    mailbox = email_service.get_or_raise(session, mailbox_id=quarantined.mailbox_id)
    result = ingest(session, raw=quarantined.raw, source=quarantined.source, store=store, limits=limits,
                    mailbox=mailbox, admitted=True)
    if result.outcome == "quarantined":
        raise Conflict(f"The mail still cannot be filed: {quarantined.error.splitlines()[0] if quarantined.error else ''}",
                       details={"reason": str(quarantined.reason)})
    events_service.record(
        session, verb="email.released", actor=actor, subject_type="email_quarantine", subject_id=quarantined.id,
        conversation_id=result.conversation_id,
        data={"reason": str(quarantined.reason), "message_id": result.message_id, "mailbox_id": mailbox.id},
    )
    session.delete(quarantined)
    session.flush()
    return result


def _key(raw: bytes, parsed: ParsedEmail | None = None) -> str:
    if parsed is not None:
        return parsed.message_id
    try:
        return parsing.parse(raw).message_id
    except Exception:
        return parsing.synthetic_message_id(raw)


def ingest(
    session: Session, *, raw: bytes, source: str, store: AttachmentStore, limits: Limits = Limits(),
    mailbox: Mailbox | None = None, recipients: Sequence[str] = (), admitted: bool = False,
) -> IngestResult:
    """File one mail (the caller commits). ``admitted``: an admin released it from the
    quarantine, so the noise rules (loops, spam, unknown senders, rate limit) do not apply."""
    def hold(reason: QuarantineReason, error: str, parsed: ParsedEmail | None = None) -> IngestResult:
        row = email_service.quarantine(
            session, raw=raw, source=source, reason=reason, error=error, message_key=_key(raw, parsed),
            mailbox_id=mailbox.id if mailbox else None, sender=parsed.from_address if parsed else None,
            subject=parsed.subject if parsed else None,
        )
        return IngestResult("quarantined", quarantine_id=row.id, reason=str(reason))

    if len(raw) > limits.max_message_bytes:
        return hold(QuarantineReason.too_large, f"The mail is {len(raw)} bytes; the limit is {limits.max_message_bytes}.")
    try:
        parsed = parsing.parse(raw)
    except UnparseableEmail as exc:
        return hold(QuarantineReason.unparseable, str(exc))
    existing = session.scalar(select(Message).where(Message.channel == CHANNEL,
                                                    Message.external_id == parsed.message_id))
    held = not admitted and email_service.quarantine_exists(session, message_key=parsed.message_id)
    if existing is not None or held:
        return IngestResult("duplicate", conversation_id=existing.conversation_id if existing else None,
                            message_id=existing.id if existing else None)
    mailboxes = email_service.all_mailboxes(session)
    if mailbox is None:
        mailbox = email_service.resolve_recipient(session, addresses=[*recipients, *parsed.recipients],
                                                  mailboxes=mailboxes)
        if mailbox is None:
            return hold(QuarantineReason.no_mailbox, "No mailbox has this recipient address.", parsed)
    noise = None if admitted else loops.classify(
        parsed, mailbox=mailbox, own_addresses=email_service.own_addresses(session, mailboxes=mailboxes))
    if noise is not None:
        reason, why = noise
        if reason == QuarantineReason.bounce:
            why += _apply_bounce(session, parsed)
        return hold(reason, why, parsed)
    parsed.recipients = list(dict.fromkeys([*recipients, *parsed.recipients]))
    customer = customers_service.find_by_identity(session, kind=IdentityKind.email, value=parsed.from_address)
    match = threads.find(session, mailbox=mailbox, parsed=parsed, customer=customer)
    if customer is None and match is None and not mailbox.accept_unknown_senders and not admitted:
        return hold(QuarantineReason.unknown_sender, "This mailbox only accepts mail from known customers.", parsed)
    if customer is not None and not admitted and loops.over_rate_limit(session, mailbox=mailbox,
                                                                        customer_id=customer.id):
        return hold(QuarantineReason.rate_limited,
                    f"More than {mailbox.max_per_sender_per_hour} mails from this sender in the last hour.", parsed)
    if customer is None:
        customer, _ = customers_service.get_or_create_by_identity(
            session, actor=SYSTEM, kind=IdentityKind.email, value=parsed.from_address, name=parsed.from_name,
            known_absent=True)
    return _file(session, raw=raw, parsed=parsed, mailbox=mailbox, customer=customer, match=match,
                 store=store, limits=limits)


def _file(session: Session, *, raw: bytes, parsed: ParsedEmail, mailbox: Mailbox, customer: Customer,
          match: threads.Match | None, store: AttachmentStore, limits: Limits) -> IngestResult:
    extracted = reply.extract(parsed.text, sender_name=parsed.from_name)
    body = extracted.reply or ("(attachments only)" if parsed.attachments else "(no text)")
    meta: dict[str, Any] = {"email": {
        "message_id": parsed.message_id, "from": parsed.from_address, "to": parsed.recipients[:20],
        "subject": parsed.subject, "folded": extracted.folded, "signature": extracted.signature,
        "threaded_by": match.how if match else None,
        "raw_key": _save(store, raw, limits=Limits(max_attachment_bytes=limits.max_message_bytes)),
        "mailbox_id": mailbox.id,
    }}
    if extracted.folded:
        # Channel-neutral: the conversation view offers "show the full message" for any channel that sets it.
        meta["original_text"] = parsed.text[:_MAX_FULL_TEXT]
    # ``known_new``: ingest() looked the Message-ID up in this transaction already.
    if match is not None:
        message = conversations_service.receive_message(
            session, conversation=match.conversation, customer=customer, body=body, channel=CHANNEL,
            external_id=parsed.message_id, meta=meta, known_new=True)
    else:
        conversation, message = conversations_service.open_conversation(
            session, actor=SYSTEM, message_meta=meta, known_new=True, conversation_in=ConversationCreate(
                customer={"id": customer.id}, subject=parsed.subject[:500] or "(no subject)", channel=CHANNEL,
                brand=mailbox.brand_id, message={"body": body[:100_000], "external_id": parsed.message_id}))
        if mailbox.acknowledge_new:
            _acknowledge(session, conversation=conversation, customer=customer, mailbox=mailbox)
    new_thread = match is None or message.conversation_id != match.conversation.id
    email_service.ensure_thread(session, conversation_id=message.conversation_id, mailbox=mailbox,
                                customer_address=parsed.from_address, new=new_thread,
                                known=match.thread if match is not None else None,
                                cited=threads.order_numbers(parsed.subject, parsed.text))
    if parsed.html:
        # Channel-neutral again: the conversation view embeds this page for any message that names one.
        message.meta = {**message.meta, "original_html_url": f"/mail/messages/{message.id}/original"}
    skipped = _attach(session, message=message, parsed=parsed, store=store, limits=limits)
    if skipped:
        message.meta = {**message.meta, "email": {**message.meta["email"], "skipped_attachments": skipped}}
    session.flush()
    created = match is None or message.conversation_id != match.conversation.id
    return IngestResult("created" if created else "appended", conversation_id=message.conversation_id,
                        message_id=message.id)


def _acknowledge(session: Session, *, conversation: Conversation, customer: Customer, mailbox: Mailbox) -> None:
    """Tell the customer their mail arrived (only for a new conversation, never for noise: noise
    never gets this far). Sent as Auto-Submitted: auto-replied, so it starts no loop."""
    from cartdesk.brands import service as brands_service
    from cartdesk.channels.email.compose import render_acknowledgement

    brand = brands_service.get_or_raise(session, brand_id=conversation.brand_id)
    body = render_acknowledgement(customer_name=customer.name, brand_name=brand.name,
                                  subject=conversation.subject, number=conversation.number)
    conversations_service.send_automatic(session, conversation=conversation, body=body,
                                         meta={"email": {"kind": "acknowledgement", "mailbox_id": mailbox.id}})


def _save(store: AttachmentStore, content: bytes, *, limits: Limits, content_type: str = "message/rfc822") -> str:
    with StagingFile(store.staging_dir, max_bytes=limits.max_attachment_bytes) as staging:
        staging.write(content)
        return store.save(staging.finish(), content_type=content_type)


def _attach(session: Session, *, message: Message, parsed: ParsedEmail, store: AttachmentStore,
            limits: Limits) -> list[dict[str, Any]]:
    skipped = []
    for part in parsed.attachments:
        if len(part.content) > limits.max_attachment_bytes:
            skipped.append({"filename": part.filename, "size": len(part.content),
                            "reason": f"larger than {limits.max_attachment_bytes} bytes"})
            continue
        content_type = _clean_content_type(part.content_type)
        key = _save(store, part.content, limits=limits, content_type=content_type)
        session.add(Attachment(
            message_id=message.id, filename=safe_filename(part.filename), content_type=content_type,
            size=len(part.content), sha256=key.rsplit("/", 1)[-1], storage_key=key,
            content_id=(part.content_id or None) and part.content_id[:300], created_at=utcnow(),
        ))
    session.flush()
    if parsed.attachments:
        session.expire(message, ["attachments"])
    return skipped


def _apply_bounce(session: Session, parsed: ParsedEmail) -> str:
    """Mark the outbound message a bounce names as failed; returns a note for the quarantine row."""
    candidates = [parsed.report.original_message_id] if parsed.report and parsed.report.original_message_id else []
    candidates += parsed.in_reply_to + parsed.references
    if not candidates:
        return " The bounced message could not be identified."
    message = session.scalar(select(Message).where(
        Message.channel == CHANNEL, Message.direction == Direction.outbound, Message.external_id.in_(candidates)))
    if message is None:
        return " It names no message we sent."
    report = parsed.report
    reason = "Bounced"
    if report is not None:
        reason += f": {report.status} {report.diagnostic}".rstrip()
    before = message.delivery_status
    message.delivery_status = DeliveryStatus.failed
    message.delivery_error = reason[:2000]
    session.flush()
    conversation = conversations_service.get(session, conversation_id=message.conversation_id)
    events_service.record(
        session, verb="message.delivery_updated", actor=SYSTEM, subject_type="message", subject_id=message.id,
        conversation_id=message.conversation_id, brand_id=conversation.brand_id if conversation else None,
        data={"delivery_status": {"before": str(before), "after": str(DeliveryStatus.failed)},
              "channel": CHANNEL, "error": message.delivery_error, "external_id": message.external_id},
    )
    return f" Marked message {message.id} failed."
